/**
 * The executor's CommandStore on etcd: the node's `commands/<node>/` folder, the `leader` key's
 * create revision (the term), compare-and-set writes on a key's mod revision, and a watch.
 */
import type { ICompare } from 'etcd3';
import type { EtcdContext } from '../../store/etcd/client.js';
import { parseMasterRecord } from '../../store/etcd/master-record.js';
import { withDeadline } from '../../store/etcd/store-error.js';
import type { CommandStore, StoredCommand } from './executor.js';

export function etcdCommandStore(ctx: EtcdContext, node: string, callMs: number): CommandStore {
  const folder = ctx.keys.commandsOf(node);
  const stored = (kv: { key: Buffer; value: Buffer; mod_revision: string }): StoredCommand | null => {
    const key = kv.key.toString();
    const id = ctx.keys.nameUnder(folder, key);
    return id === null ? null : { id, key, value: kv.value.toString(), modRevision: kv.mod_revision };
  };
  return {
    async list() {
      const reply = await withDeadline('list the commands', callMs, () => ctx.client.getAll().prefix(folder).exec());
      return reply.kvs.map(stored).filter((s): s is StoredCommand => s !== null).sort((a, b) => (a.id < b.id ? -1 : 1));
    },
    async get(id) {
      const reply = await withDeadline('read a command', callMs, () => ctx.client.get(ctx.keys.command(node, id)).exec());
      const kv = reply.kvs[0];
      return kv ? stored(kv) : null;
    },
    async leaderTerm() {
      const reply = await withDeadline('read the leader key', callMs, () => ctx.client.get(ctx.keys.leader).exec());
      return reply.kvs[0]?.create_revision ?? null;
    },
    async recordedMaster() {
      const value = await withDeadline('read the master key', callMs, () => ctx.client.get(ctx.keys.master).buffer());
      if (value === null) return null;
      try {
        return parseMasterRecord(ctx.keys.master, value).name;
      } catch {
        return null;
      }
    },
    async masterLeasePresent() {
      const reply = await withDeadline('read the master lease key', callMs, () => ctx.client.get(ctx.keys.masterLease(node)).exec());
      return reply.kvs.length > 0;
    },
    async replace(id, modRevision, value, term) {
      const key = Buffer.from(ctx.keys.command(node, id));
      // The take also compares the leader key's create revision with the command's term: the term
      // check and the take are one transaction, so a leader deposed in between gets nothing run.
      const termCompare: ICompare[] = term === undefined ? [] : [{ key: Buffer.from(ctx.keys.leader), target: 'Create', result: 'Equal', create_revision: term }];
      const reply = await withDeadline('write a command record', callMs, () =>
        ctx.client.kv.txn({
          compare: [{ key, target: 'Mod', result: 'Equal', mod_revision: modRevision }, ...termCompare],
          // ignore_lease: the record stays under the leader's lease (it vanishes with that term).
          success: [{ request_put: { key, value: Buffer.from(value), ignore_lease: true } }],
          failure: [],
        }),
      );
      return reply.succeeded ? reply.header.revision : null;
    },
    async watch(changed) {
      const watcher = await ctx.client.watch().prefix(folder).create();
      watcher.on('put', (kv) => {
        const id = ctx.keys.nameUnder(folder, kv.key.toString());
        if (id !== null) changed(id);
      });
      // Errors are retried by the client (it re-creates the watch); the periodic scan covers the gap.
      watcher.on('error', () => undefined);
      return () => void watcher.cancel().catch(() => undefined);
    },
  };
}
