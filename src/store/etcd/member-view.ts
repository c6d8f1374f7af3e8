/**
 * Reading the agents' member records (`members/<node>`, written by src/agent/member-record.ts):
 * a lenient view of the fields other parties use (a replica's agent: the master's position; a
 * controller: each agent's probe of the master), and all of them at once for the controller.
 */
import type { EtcdContext } from './client.js';
import { prefixEnd } from './guarded-txn.js';
import { memberFields } from './member-json.js';
import { withDeadline } from './store-error.js';

/** The fields of another agent's member record this agent reads (parseMemberView). */
export interface MemberView {
  readonly name: string;
  readonly role: 'master' | 'replica' | null;
  readonly postgres: string;
  readonly wal_position: string | null;
  /** Its timeline (absent from older records). */
  readonly timeline?: number | null;
  readonly observed_at: string | null;
  readonly sees_master: boolean | null;
  readonly sees_master_detail: string | null;
  readonly probed_at: string | null;
  /** The etcd revision read before the probe (a decimal string), or null. */
  readonly probe_revision?: string | null;
  readonly master_probed: string | null;
}

/** A member record's JSON as a view; null when it is not one (an older agent's record has no observed_at: null there). */
export function parseMemberView(text: string | null): MemberView | null {
  const v = memberFields(text);
  if (v === null) return null;
  if (typeof v['name'] !== 'string' || typeof v['postgres'] !== 'string') return null;
  const role = v['role'] === 'master' || v['role'] === 'replica' ? v['role'] : null;
  const text_ = (key: string): string | null => (typeof v[key] === 'string' ? (v[key] as string) : null);
  return {
    name: v['name'],
    role,
    postgres: v['postgres'],
    wal_position: text_('wal_position'),
    ...(validTimeline(v['timeline']) ? { timeline: v['timeline'] } : {}),
    observed_at: text_('observed_at'),
    sees_master: typeof v['sees_master'] === 'boolean' ? v['sees_master'] : null,
    sees_master_detail: text_('sees_master_detail'),
    probed_at: text_('probed_at'),
    // Only when a newer agent wrote one (older records have none: absent, not null).
    ...(typeof v['probe_revision'] === 'string' && /^\d{1,19}$/.test(v['probe_revision']) ? { probe_revision: v['probe_revision'] } : {}),
    master_probed: text_('master_probed'),
  };
}

/** A timeline ID as PostgreSQL has them: 1 ≤ n < 2^32. */
export function validTimeline(x: unknown): x is number {
  return typeof x === 'number' && Number.isInteger(x) && x >= 1 && x < 2 ** 32;
}

/**
 * Every member record that parses and whose `name` is the node of its key (members/<node>): a
 * record under another node's key (a stale or misconfigured agent) is no vantage point. Pure.
 */
export function viewsUnderTheirKeys(all: Readonly<Record<string, string>>, prefix: string): MemberView[] {
  return Object.entries(all)
    .map(([key, text]) => ({ node: key.startsWith(prefix) ? key.slice(prefix.length) : null, view: parseMemberView(text) }))
    .filter((entry): entry is { node: string; view: MemberView } => entry.view !== null && entry.view.name === entry.node)
    .map((entry) => entry.view);
}

/** The member records and the store's revision when they were read (a linearizable range read). */
export interface MemberViewsRead {
  readonly views: MemberView[];
  readonly revision: string;
}

/** Every record under the members folder, text by key, and the store's revision (one linearizable range read). */
export async function readMemberTexts(ctx: EtcdContext): Promise<{ texts: Record<string, string>; revision: string }> {
  const prefix = ctx.keys.membersPrefix;
  const reply = await withDeadline('read the member records', ctx.deadlineMs, () => ctx.client.kv.range({ key: Buffer.from(prefix), range_end: prefixEnd(prefix) }));
  return { texts: Object.fromEntries(reply.kvs.map((kv) => [kv.key.toString(), kv.value.toString()])), revision: reply.header.revision };
}

export async function readMemberViews(ctx: EtcdContext): Promise<MemberViewsRead> {
  const read = await readMemberTexts(ctx);
  return { views: viewsUnderTheirKeys(read.texts, ctx.keys.membersPrefix), revision: read.revision };
}
