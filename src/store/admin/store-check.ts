/**
 * `handyrep store check`: what an operator needs to know before switching a cluster to etcd (or
 * when a controller says STORE_UNREACHABLE): every endpoint answers, the credentials and TLS
 * files work, and what the cluster's prefix holds (who leads, a state, a journal). Read only:
 * it takes no lock and writes nothing, so it may run beside the daemons.
 */
import { resolvePath } from '../../config/merge.js';
import type { HandyRepConfig } from '../../config/schema.js';
import { describeError } from '../../model/errors.js';
import type { StoredStateRead } from '../cluster-store.js';
import { LocalClusterStore } from '../local-cluster-store.js';
import { createEtcdContext } from '../etcd/client.js';
import { EtcdClusterStore } from '../etcd/etcd-cluster-store.js';
import { EtcdLeadership } from '../etcd/leadership.js';
import { withDeadline } from '../etcd/store-error.js';

export interface StoreCheckLine {
  ok: boolean;
  what: string;
  details: string;
}

export async function checkStores(config: HandyRepConfig, configDir: string): Promise<StoreCheckLine[]> {
  const lines: StoreCheckLine[] = [];
  const serverFile = resolvePath(configDir, config.handyrep.server_file);
  const local = new LocalClusterStore(serverFile);
  lines.push(await probe(`local state ${serverFile}`, async () => stateSummary(await local.readState())));
  lines.push(await probe(`local journal`, async () => journalSummary(await local.readJournal())));
  if (config.etcd.endpoints.length === 0) {
    lines.push({ ok: config.handyrep.store === 'local', what: 'etcd', details: 'no etcd.endpoints configured' });
    return lines;
  }
  const ctx = createEtcdContext(config);
  try {
    for (let i = 0; i < ctx.memberCount; i += 1) {
      const endpoint = config.etcd.endpoints[i] ?? '';
      lines.push(
        await probe(`etcd endpoint ${endpoint}`, async () => {
          const status = await withDeadline(`status of ${endpoint}`, ctx.deadlineMs, () => ctx.memberClient(i).maintenance.status());
          return `etcd ${status.version}, member ${status.header.member_id}${status.leader === status.header.member_id ? ' (raft leader)' : ''}, raft term ${status.raftTerm}`;
        }),
      );
    }
    const readOnly = { current: null, markLost: () => undefined };
    const store = new EtcdClusterStore(ctx, readOnly);
    lines.push(
      await probe(`etcd leader key ${ctx.keys.leader}`, async () => {
        const leader = await new EtcdLeadership(ctx, { controllerId: 'store-check', apiUrl: null }).currentLeader();
        return leader === null ? 'no controller leads' : `controller ${leader.record.controller_id} leads since ${leader.record.since}${leader.record.api_url ? `, API ${leader.record.api_url}` : ''} (term ${leader.term})`;
      }),
    );
    lines.push(await probe(`etcd state under ${ctx.keys.prefix}`, async () => stateSummary(await store.readState())));
    lines.push(await probe('etcd journal', async () => journalSummary(await store.readJournal())));
  } finally {
    ctx.close();
  }
  return lines;
}

async function probe(what: string, read: () => Promise<string>): Promise<StoreCheckLine> {
  try {
    return { ok: true, what, details: await read() };
  } catch (err) {
    return { ok: false, what, details: describeError(err) };
  }
}

function stateSummary(read: StoredStateRead): string {
  if (read.kind === 'missing') return 'no state yet';
  if (read.kind === 'invalid') throw new Error(`unreadable: ${read.reason}`);
  const { state } = read;
  return `version ${state.version}, ${Object.keys(state.servers).length} servers, ${state.history?.length ?? 0} failover records, cluster ${state.status.status}, written ${new Date(state.updated_ms).toISOString()}`;
}

function journalSummary(journal: { id: string; kind: string; started: string } | null): string {
  return journal === null ? 'none (no topology change in flight)' : `an interrupted ${journal.kind} ${journal.id} started ${journal.started}: a daemon on this store recovers it at start`;
}
