/**
 * The `master` key (design §9, "Keys"): which node the cluster's leading party has made master,
 * under which term. It is the one fact both controllers and node agents act on:
 *   - the leading controller writes it, term-guarded, BEFORE it promotes a node (and seeds it with
 *     the verified master when it starts leading), so a promotion is never unrecorded;
 *   - an agent lets its PostgreSQL be writable only while this key names its node, and boots a node
 *     as a standby of whatever node the key names.
 * This module is the codec and the pure checks; writers and readers live with their owners.
 */
import { HandyRepError } from '../../model/errors.js';
import { NAME_PATTERN } from '../../config/validators.js';

/** The value of the `master` key (JSON). */
export interface MasterRecord {
  /** The master's server name (a valid name). */
  name: string;
  /** The leadership term under which it was written (decimal etcd revision), or the agent election's. */
  term: string;
  /** The master's timeline when recorded; null when unknown (seeded from a master not yet verified). */
  timeline: number | null;
  /** The WAL position at promotion ('X/Y'); null when the node was already master when recorded. */
  promoted_lsn: string | null;
  /** The recorded synchronous standbys (names) when synchronous_mode is on; [] otherwise. */
  sync_set: string[];
  /** When it was written (ISO 8601). */
  since: string;
  /** Who wrote it: a controller id, or `agent:<node>` for an agents' election. */
  written_by: string;
}

const LSN_PATTERN = /^[0-9A-F]{1,8}\/[0-9A-F]{1,8}$/i;

export function encodeMasterRecord(record: MasterRecord): string {
  const { name, term, timeline, promoted_lsn, sync_set, since, written_by } = record;
  return JSON.stringify({ name, term, timeline, promoted_lsn, sync_set, since, written_by });
}

/** The record in the `master` key's value; anything else is a STORE_DATA error naming the key and the field. */
export function parseMasterRecord(key: string, value: Buffer | string): MasterRecord {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value.toString());
  } catch {
    throw new HandyRepError('STORE_DATA', `etcd key ${key} does not hold JSON`);
  }
  const problem = masterRecordProblem(parsed);
  if (problem !== null) throw new HandyRepError('STORE_DATA', `etcd key ${key} does not hold a master record: ${problem}`);
  return parsed as MasterRecord;
}

/** What is wrong with `value` as a master record, or null. */
export function masterRecordProblem(value: unknown): string | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'an object is expected';
  const v = value as Record<string, unknown>;
  if (typeof v['name'] !== 'string' || !NAME_PATTERN.test(v['name'])) return '"name" must be a server name';
  if (typeof v['term'] !== 'string' || !/^[1-9][0-9]{0,18}$/.test(v['term'])) return '"term" must be a positive decimal revision';
  const timeline = v['timeline'];
  if (!(timeline === null || (typeof timeline === 'number' && Number.isInteger(timeline) && timeline >= 1))) return '"timeline" must be a positive integer or null';
  const lsn = v['promoted_lsn'];
  if (!(lsn === null || (typeof lsn === 'string' && LSN_PATTERN.test(lsn)))) return '"promoted_lsn" must be a WAL position or null';
  const sync = v['sync_set'];
  if (!Array.isArray(sync) || !sync.every((s) => typeof s === 'string' && NAME_PATTERN.test(s))) return '"sync_set" must be a list of server names';
  if (typeof v['since'] !== 'string' || Number.isNaN(Date.parse(v['since']))) return '"since" must be an ISO 8601 time';
  if (typeof v['written_by'] !== 'string' || v['written_by'] === '') return '"written_by" must name the writer';
  return null;
}

/** Whether `node` may be writable according to the record as read (null = no record). */
export function recordAllowsWritable(record: MasterRecord | null, node: string): boolean {
  return record !== null && record.name === node;
}
