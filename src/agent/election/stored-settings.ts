/**
 * The candidate settings of an agents' election from the cluster's stored server definitions
 * (`servers/<name>`, written by the leading controller: what an operator changed through the API,
 * alter_server_def included), so every agent judges on the same settings whatever its own file
 * says. Pure: the values in, the settings out. A definition that does not parse is not a
 * candidate (it is still compared in the ordering of no one); when no definition is stored at all
 * (a cluster never led by a controller) the agent's own file is used.
 */
import type { ServerElectionSettings } from './judge.js';

export interface StoredSettings {
  /** Where the settings came from, for the log and the history entry. */
  readonly source: 'etcd' | 'file';
  readonly servers: Readonly<Record<string, ServerElectionSettings>>;
}

/** The settings of the enabled stored definitions, or the file's when none is stored. */
export function electionSettingsFrom(stored: readonly { readonly name: string; readonly value: string }[], file: Readonly<Record<string, ServerElectionSettings>>): StoredSettings {
  if (stored.length === 0) return { source: 'file', servers: file };
  // No prototype: a server name like `constructor` is looked up as itself only.
  const servers = Object.create(null) as Record<string, ServerElectionSettings>;
  for (const { name, value } of stored) {
    const settings = parseStored(value);
    if (settings !== null) servers[name] = settings;
  }
  return { source: 'etcd', servers };
}

/** A stored definition's election settings; null when it is disabled, not a database server, or malformed. */
function parseStored(value: string): ServerElectionSettings | null {
  let v: unknown;
  try {
    v = JSON.parse(value);
  } catch {
    return null;
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return null;
  const r = v as Record<string, unknown>;
  const priority = r['failover_priority'];
  const lag = r['lag_limit'];
  // A server the controller fenced (an old master out of service until a rejoin or reclone) is
  // never a candidate: its WAL may be a forked history.
  if (r['enabled'] !== true || r['fenced'] === true || (r['role'] !== 'master' && r['role'] !== 'replica')) return null;
  if (typeof priority !== 'number' || !Number.isInteger(priority) || priority < 0) return null;
  if (typeof lag !== 'number' || !(lag >= 0) || typeof r['nofailover'] !== 'boolean') return null;
  return { failoverPriority: priority, nofailover: r['nofailover'], lagLimitMb: lag };
}
