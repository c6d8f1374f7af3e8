/**
 * Saved server records (servers.save, the handyrep table) are data from disk or from a database
 * anyone with write access to the table can change, and their values end up in connection
 * strings and command lines. Each one is checked with the configuration schema before use: a
 * record that fails is rejected whole (never partly used); observed facts and statuses, which the
 * next check replaces anyway, are reset when malformed.
 */
import { SERVER_SETTING_KEYS, type ServerSettings } from '../config/schema.js';
import { NAME_PATTERN } from '../config/validators.js';
import { NO_FACTS, type ObservedFacts, type ServerMap, type ServerRecord } from '../model/server.js';
import { makeServerStatus, SERVER_STATUSES, type ServerStatus, type ServerStatusName } from '../model/status.js';
import { validateServerProps } from './server-admin.js';

export interface RejectedRecord {
  name: string;
  reason: string;
}

export interface SavedServersCheck {
  /** The records that passed, completed from the current server_defaults. */
  servers: ServerMap;
  rejected: RejectedRecord[];
  /** Why the whole state must not be used (nothing valid, or its master record rejected); null when usable. */
  unusable: string | null;
}

/** Keys of a definition a saved record must carry itself (the settings may come from the defaults). */
const REQUIRED_KEYS = ['hostname', 'role', 'enabled'] as const;
const DEFINITION_KEYS: readonly string[] = [...REQUIRED_KEYS, ...SERVER_SETTING_KEYS];

const LSN_PATTERN = /^[0-9A-Fa-f]{1,8}\/[0-9A-Fa-f]{1,8}$/;
const PROGRESS_STATES = new Set(['running', 'done', 'failed', 'cancelled']);

type FactCheck = (value: unknown) => boolean;
const isCount: FactCheck = (v) => typeof v === 'number' && Number.isFinite(v);
const FACT_CHECKS: Record<keyof ObservedFacts, FactCheck> = {
  lag_bytes: isCount,
  lag_mb: isCount,
  lag_seconds: isCount,
  timeline: isCount,
  pg_version_num: isCount,
  archive_failed_count: isCount,
  wal_position: (v) => typeof v === 'string' && LSN_PATTERN.test(v),
  wal_position_at: (v) => typeof v === 'string' && !Number.isNaN(Date.parse(v)),
  receive_lsn: (v) => typeof v === 'string' && LSN_PATTERN.test(v),
  action: (v) => v === 'clone',
  action_progress: (v) => isPlainObject(v) && v['kind'] === 'clone' && PROGRESS_STATES.has(String(v['state'])),
};

export function validateSavedServers(saved: unknown, defaults: Readonly<ServerSettings>, now: string): SavedServersCheck {
  if (!isPlainObject(saved)) return { servers: {}, rejected: [], unusable: 'it holds no mapping of server records' };
  const servers: ServerMap = {};
  const rejected: RejectedRecord[] = [];
  let masterRejected: string | null = null;
  for (const [name, record] of Object.entries(saved)) {
    const checked = checkRecord(name, record, defaults, now);
    if (typeof checked === 'string') {
      rejected.push({ name, reason: checked });
      if (isPlainObject(record) && record['role'] === 'master') masterRejected = name;
    } else {
      servers[name] = checked;
    }
  }
  const total = Object.keys(saved).length;
  let unusable: string | null = null;
  if (total === 0) unusable = 'it holds no server records';
  else if (Object.keys(servers).length === 0) unusable = `none of its ${total} server records is valid`;
  else if (masterRejected !== null) unusable = `its master record ${masterRejected} is invalid`;
  return { servers, rejected, unusable };
}

/** The completed record, or why it is rejected. */
function checkRecord(name: string, record: unknown, defaults: Readonly<ServerSettings>, now: string): ServerRecord | string {
  if (!NAME_PATTERN.test(name)) return `"${name.slice(0, 60)}" is not a valid server name`;
  if (!isPlainObject(record)) return 'not a mapping of settings';
  const missing = REQUIRED_KEYS.filter((key) => !Object.hasOwn(record, key));
  if (missing.length > 0) return `missing ${missing.join(', ')}`;
  const definition = Object.fromEntries(DEFINITION_KEYS.filter((key) => Object.hasOwn(record, key)).map((key) => [key, record[key]]));
  const validated = validateServerProps(definition);
  if (!validated.ok) return validated.reason;
  const fenced = record['fenced'] ?? false;
  if (typeof fenced !== 'boolean') return 'fenced: must be true or false';
  const unconfirmed = record['fence_unconfirmed'] ?? false;
  if (typeof unconfirmed !== 'boolean') return 'fence_unconfirmed: must be true or false';
  return {
    ...defaults,
    ...(validated.value as typeof validated.value & { hostname: string; role: string; enabled: boolean }),
    ...savedStatus(record, now),
    ...savedFacts(record),
    fenced,
    ...(unconfirmed ? { fence_unconfirmed: true } : {}),
  };
}

/** The saved status when well formed (status_no recomputed from the name), else unknown. */
function savedStatus(record: Record<string, unknown>, now: string): ServerStatus {
  const { status, status_ts: ts, status_message: message } = record;
  if ((SERVER_STATUSES as readonly unknown[]).includes(status) && typeof ts === 'string' && typeof message === 'string') {
    return makeServerStatus(status as ServerStatusName, message, ts);
  }
  return makeServerStatus('unknown', 'saved status unreadable; not checked yet', now);
}

/** Each saved fact when well formed, else null (the next check observes it again). */
function savedFacts(record: Record<string, unknown>): ObservedFacts {
  const facts: Record<string, unknown> = { ...NO_FACTS };
  for (const [key, check] of Object.entries(FACT_CHECKS)) {
    const value = record[key];
    if (value !== null && value !== undefined && check(value)) facts[key] = value;
  }
  return facts as unknown as ObservedFacts;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
