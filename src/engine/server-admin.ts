/**
 * Rules of server administration (add_server, alter_server_def, enable, remove), as pure
 * functions: they validate and plan; the caller applies. A refusal says exactly why, and nothing
 * is changed.
 */
import { serverSettingSchema, type ServerSettings } from '../config/schema.js';
import { NAME_PATTERN } from '../config/validators.js';
import { NO_FACTS, NO_FLAGS, type ServerDefinition, type ServerMap, type ServerRecord } from '../model/server.js';
import { makeServerStatus } from '../model/status.js';

export type Plan<T> = { ok: true; value: T } | { ok: false; reason: string };

const STATUS_KEYS = new Set(['status', 'status_no', 'status_ts', 'status_message']);
const FACT_KEYS = new Set([...Object.keys(NO_FACTS), ...Object.keys(NO_FLAGS)]);

/** Validate a set of server properties; every problem is listed. */
export function validateServerProps(props: Readonly<Record<string, unknown>>): Plan<Partial<ServerDefinition>> {
  const problems: string[] = [];
  const valid: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(props)) {
    if (STATUS_KEYS.has(key)) {
      problems.push(`${key}: server status cannot be changed by hand`);
      continue;
    }
    if (FACT_KEYS.has(key)) {
      problems.push(`${key}: observed by HandyRep, cannot be set`);
      continue;
    }
    const schema = serverSettingSchema(key);
    if (!schema) {
      problems.push(`${key}: unknown server setting`);
      continue;
    }
    const parsed = schema.safeParse(value);
    if (!parsed.success) {
      problems.push(`${key}: ${parsed.error.issues.map((i) => i.message).join('; ')} (got ${preview(value)})`);
      continue;
    }
    valid[key] = parsed.data;
  }
  return problems.length > 0 ? { ok: false, reason: problems.join('; ') } : { ok: true, value: valid as Partial<ServerDefinition> };
}

function preview(value: unknown): string {
  const text = typeof value === 'string' ? JSON.stringify(value) : String(JSON.stringify(value) ?? value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/** A new server record from defaults plus properties; new servers start disabled (seed 004). */
export function planAddServer(
  servers: Readonly<ServerMap>,
  name: string,
  props: Readonly<Record<string, unknown>>,
  defaults: Readonly<ServerSettings>,
  now: string,
): Plan<ServerRecord> {
  if (!NAME_PATTERN.test(name)) return { ok: false, reason: `servername "${name}" is not a valid name (letters, digits, "_", "." or "-")` };
  if (Object.hasOwn(servers, name)) return { ok: false, reason: `a server named ${name} already exists; use alter_server_def to change it` };
  const validated = validateServerProps(props);
  if (!validated.ok) return validated;
  if (validated.value.hostname === undefined) return { ok: false, reason: 'hostname: required for a new server' };
  const record: ServerRecord = {
    ...defaults,
    role: 'replica',
    ...validated.value,
    hostname: validated.value.hostname,
    enabled: false,
    ...makeServerStatus('unknown', 'added, not checked yet', now),
    ...NO_FACTS,
    ...NO_FLAGS,
  };
  return { ok: true, value: record };
}

export interface AlterPlan {
  record: ServerRecord;
  /** Set when the properties change `enabled`: the caller runs enable/disable for it. */
  enabledChange: 'enable' | 'disable' | null;
}

/** Apply properties to an existing server; role changes of servers in replication are refused. */
export function planAlterServer(servers: Readonly<ServerMap>, name: string, props: Readonly<Record<string, unknown>>): Plan<AlterPlan> {
  const current = Object.hasOwn(servers, name) ? servers[name] : undefined;
  if (!current) return { ok: false, reason: `no server named "${name}" is configured` };
  const validated = validateServerProps(props);
  if (!validated.ok) return validated;
  const { enabled, ...changes } = validated.value;
  const replicationRoles = new Set(['master', 'replica']);
  if (
    changes.role !== undefined &&
    changes.role !== current.role &&
    current.enabled &&
    (replicationRoles.has(current.role) || replicationRoles.has(changes.role))
  ) {
    return { ok: false, reason: `changing the role of ${name} (${current.role} → ${changes.role}) while it is enabled is not allowed; use promote, disable or clone instead` };
  }
  const record: ServerRecord = { ...current, ...changes };
  let enabledChange: AlterPlan['enabledChange'] = null;
  if (enabled !== undefined && enabled !== current.enabled) enabledChange = enabled ? 'enable' : 'disable';
  return { ok: true, value: { record, enabledChange } };
}

/** Enabling a master while another enabled master exists would make two primaries. */
export function checkEnable(servers: Readonly<ServerMap>, name: string): Plan<null> {
  const current = Object.hasOwn(servers, name) ? servers[name] : undefined;
  if (!current) return { ok: false, reason: `no server named "${name}" is configured` };
  if (current.role === 'master') {
    const others = Object.entries(servers).filter(([n, s]) => n !== name && s.enabled && s.role === 'master');
    if (others.length > 0) {
      return { ok: false, reason: `cannot enable ${name} as a second master: ${others.map(([n]) => n).join(', ')} is the enabled master; disable it first` };
    }
  }
  return { ok: true, value: null };
}

/** Only disabled servers may be removed. */
export function checkRemove(servers: Readonly<ServerMap>, name: string): Plan<null> {
  const current = Object.hasOwn(servers, name) ? servers[name] : undefined;
  if (!current) return { ok: false, reason: `no server named "${name}" is configured` };
  if (current.enabled) return { ok: false, reason: `server ${name} is enabled; disable it before removing it` };
  return { ok: true, value: null };
}
