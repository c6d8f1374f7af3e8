/**
 * The `master` key for a new cluster (design §9 rule 3, "nothing recorded and the cluster is new"):
 * an agent allowed to bootstrap takes the key with a CREATE-ONLY transaction (it succeeds only while
 * the key has never been created since it was last absent), so of several agents racing exactly one
 * creates the cluster; the others read the winner's name and clone it. The record says it is a
 * bootstrap claim (boot.ts bootstrapWriter, timeline null), so the winner's agent, restarted before
 * its initdb finished, knows to run initdb; once its PostgreSQL runs, `confirmBootstrap` sets the
 * timeline, after which an empty data folder is never initdb'd again under that record.
 *
 * Not a new cluster: the key `initialized` exists (written once with the first claim, never
 * deleted: a lost or deleted `master` key does not open a second bootstrap), or another agent's
 * member record says its PostgreSQL runs (a cluster nobody recorded yet): the claim is refused.
 * Only the agent of `agent.bootstrap_node` ever claims (boot.ts).
 */
import type { EtcdContext } from '../store/etcd/client.js';
import { requestOp } from '../store/etcd/guarded-txn.js';
import { encodeMasterRecord, parseMasterRecord, type MasterRecord } from '../store/etcd/master-record.js';
import { withDeadline } from '../store/etcd/store-error.js';
import { bootstrapWriter, isOwnBootstrap } from './boot.js';

/** `modRevision`: the `master` key's as written by the claim. */
export type ClaimResult = { readonly won: true; readonly details: string; readonly modRevision: string } | { readonly won: false; readonly details: string };

/** The other nodes whose member records say PostgreSQL runs (their agents live and see it). */
async function runningMembers(ctx: EtcdContext, node: string, callMs: number): Promise<string[]> {
  const prefix = ctx.keys.membersPrefix;
  const all = await withDeadline('read the member records', callMs, () => ctx.client.getAll().prefix(prefix).strings());
  const running: string[] = [];
  for (const [key, value] of Object.entries(all)) {
    const name = key.slice(prefix.length);
    if (name === node) continue;
    try {
      const state = (JSON.parse(value) as { postgres?: unknown }).postgres;
      if (state === 'running' || state === 'unresponsive') running.push(name);
    } catch {
      running.push(`${name} (unreadable record)`);
    }
  }
  return running.sort();
}

export async function claimMasterForBootstrap(ctx: EtcdContext, node: string, callMs: number): Promise<ClaimResult> {
  const running = await runningMembers(ctx, node, callMs);
  if (running.length > 0) return { won: false, details: `not a new cluster: PostgreSQL runs on ${running.join(', ')} and no master is recorded; not bootstrapping` };
  const key = Buffer.from(ctx.keys.master);
  const initialized = Buffer.from(ctx.keys.initialized);
  const read = await withDeadline('read the master key', callMs, () => ctx.client.kv.range({ key }));
  if (read.kvs.length > 0) return { won: false, details: 'a master was recorded meanwhile' };
  const before = await withDeadline('read the initialized key', callMs, () => ctx.client.kv.range({ key: initialized }));
  if (before.kvs.length > 0) return { won: false, details: `the cluster was initialized before (etcd key ${ctx.keys.initialized}: ${before.kvs[0]?.value.toString() ?? ''}): never bootstrapped twice; record the master instead` };
  const record: MasterRecord = {
    name: node,
    // The revision at which no master was seen: a real etcd revision, as controllers' terms are.
    term: read.header.revision,
    timeline: null,
    promoted_lsn: null,
    sync_set: [],
    since: new Date().toISOString(),
    written_by: bootstrapWriter(node),
  };
  const reply = await withDeadline('take the master key (create-only)', callMs, () =>
    ctx.client.kv.txn({
      compare: [
        { key, target: 'Create', result: 'Equal', create_revision: 0 },
        { key: initialized, target: 'Create', result: 'Equal', create_revision: 0 },
      ],
      success: [
        requestOp({ kind: 'put', key: ctx.keys.master, value: encodeMasterRecord(record) }),
        requestOp({ kind: 'put', key: ctx.keys.initialized, value: JSON.stringify({ by: node, at: record.since }) }),
      ],
      failure: [{ request_range: { key } }],
    }),
  );
  if (reply.succeeded) return { won: true, details: `master key taken at revision ${reply.header.revision}`, modRevision: reply.header.revision };
  const now = reply.responses[0]?.response_range?.kvs[0];
  let who = 'another node';
  try {
    if (now) who = parseMasterRecord(ctx.keys.master, now.value).name;
  } catch {
    // named generically
  }
  return { won: false, details: `${who} took the master key first` };
}

/**
 * After the bootstrapped master started: replace the claim with the same record and timeline 1
 * (only if the key still holds this node's claim, unchanged). True when the key no longer holds a
 * claim of this node (confirmed now or before).
 */
export async function confirmBootstrap(ctx: EtcdContext, node: string, callMs: number): Promise<boolean> {
  const key = Buffer.from(ctx.keys.master);
  const read = await withDeadline('read the master key', callMs, () => ctx.client.kv.range({ key }));
  const kv = read.kvs[0];
  if (!kv) return false;
  const record = parseMasterRecord(ctx.keys.master, kv.value);
  if (!isOwnBootstrap(record, node)) return true;
  const reply = await withDeadline('confirm the bootstrapped master', callMs, () =>
    ctx.client.kv.txn({
      compare: [{ key, target: 'Mod', result: 'Equal', mod_revision: kv.mod_revision }],
      success: [requestOp({ kind: 'put', key: ctx.keys.master, value: encodeMasterRecord({ ...record, timeline: 1 }) })],
      failure: [],
    }),
  );
  return reply.succeeded;
}
