/**
 * The master's member record as of the revision its agent lease went (engine/crash-statement.ts):
 * one range read at that revision, so a record the agent rewrote since (its next round) does not
 * hide the statement made with the release. A revision etcd compacted away, or any other error,
 * rejects: the caller then keeps its retries.
 */
import type { CrashStatementFacts } from '../../engine/crash-statement.js';
import type { EtcdContext } from './client.js';
import { parseMemberView } from './member-view.js';
import { withDeadline } from './store-error.js';

export async function memberRecordAt(ctx: EtcdContext, node: string, revision: string, callMs: number): Promise<CrashStatementFacts['record']> {
  const reply = await withDeadline(`read members/${node} at revision ${revision}`, callMs, () => ctx.client.kv.range({ key: Buffer.from(ctx.keys.member(node)), revision }));
  const kv = reply.kvs[0];
  if (kv === undefined) return null;
  const view = parseMemberView(kv.value.toString());
  // A record under this key that names another node is no statement about this one.
  return { postgres: view !== null && view.name === node ? view.postgres : null, modRevision: String(kv.mod_revision) };
}
