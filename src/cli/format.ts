/**
 * Human output of the CLI (pure: values in, text out). `--json` bypasses all of this.
 * - status: a table (name, role, status, lag (MB), timeline, message) and the cluster line;
 * - RDs: `SUCCESS: details` / `FAIL: details`, then the other fields indented;
 * - read_log and failover_history: one aligned line per entry, oldest first (newest at the bottom,
 *   like tail);
 * - get_agents: one line per node's agent (format-agents.ts);
 * - anything else: keys and values, nested by indentation.
 * Colours are ANSI codes, only when asked for (a TTY without NO_COLOR).
 */
import { formatAgents } from './format-agents.js';

export interface Style {
  color: boolean;
  /** Terminal width: long messages in tables are cut to fit; null = never cut. */
  columns: number | null;
}

const CODES = { red: 31, green: 32, yellow: 33, blue: 34, magenta: 35, cyan: 36, bold: 1, dim: 2 } as const;
type Colour = keyof typeof CODES;

export function paint(style: Style, colour: Colour, text: string): string {
  return style.color && text !== '' ? `\x1b[${CODES[colour]}m${text}\x1b[0m` : text;
}

/** Colour of a server or cluster status name. */
function statusColour(status: string): Colour {
  switch (status) {
    case 'healthy':
    case 'SUCCESS':
      return 'green';
    case 'lagged':
    case 'warning':
      return 'yellow';
    case 'unavailable':
    case 'down':
    case 'FAIL':
      return 'red';
    default:
      return 'dim';
  }
}

type Row = readonly string[];

/** Left-aligned columns (right-aligned where `right` says), two spaces apart; colour applied after padding. */
export function table(header: Row | null, rows: readonly Row[], options: { right?: readonly number[]; colour?: (row: number, col: number, text: string) => Colour | null; style: Style; cutLast?: boolean }): string {
  let all = header ? [header, ...rows] : [...rows];
  const width = (text: string): number => [...text].length;
  if (options.cutLast && options.style.columns !== null) {
    // Cut the last cell (a free-text message) so that a row fits the terminal.
    const before: number[] = [];
    for (const row of all) row.slice(0, -1).forEach((cell, i) => (before[i] = Math.max(before[i] ?? 0, width(cell))));
    const room = Math.max(20, options.style.columns - before.reduce((sum, w) => sum + w + 2, 0));
    all = all.map((row) => row.map((cell, i) => (i === row.length - 1 ? cut(cell, room) : cell)));
  }
  const widths: number[] = [];
  for (const row of all) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, width(cell))));
  const right = new Set(options.right ?? []);
  return all
    .map((row, r) =>
      row
        .map((cell, c) => {
          const last = c === row.length - 1;
          const pad = ' '.repeat(Math.max(0, (widths[c] ?? 0) - width(cell)));
          const padded = right.has(c) ? pad + cell : last ? cell : cell + pad;
          if (header && r === 0) return paint(options.style, 'bold', padded);
          const colour = options.colour?.(header ? r - 1 : r, c, cell) ?? null;
          return colour ? paint(options.style, colour, padded) : padded;
        })
        .join('  '),
    )
    .join('\n');
}

function cut(text: string, width: number): string {
  const chars = [...text];
  return chars.length > width ? `${chars.slice(0, Math.max(1, width - 1)).join('')}…` : text;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** An RD: an object with result SUCCESS or FAIL. */
export function isRd(value: unknown): value is { result: 'SUCCESS' | 'FAIL'; details?: unknown } & Record<string, unknown> {
  return isObject(value) && (value['result'] === 'SUCCESS' || value['result'] === 'FAIL');
}

function scalar(value: unknown): string {
  if (value === null || value === undefined) return '-';
  if (typeof value === 'string') return value;
  return JSON.stringify(value);
}

/** Keys and values, nested by indentation; arrays of scalars on one line, arrays of objects as `-` items. */
export function formatValue(value: unknown, style: Style, indent = ''): string {
  if (!isObject(value) && !Array.isArray(value)) return `${indent}${scalar(value)}`;
  const lines: string[] = [];
  const entries: [string, unknown][] = Array.isArray(value) ? value.map((v): [string, unknown] => ['-', v]) : Object.entries(value);
  if (entries.length === 0) return `${indent}${Array.isArray(value) ? '(none)' : '(empty)'}`;
  for (const [key, item] of entries) {
    const label = key === '-' ? '-' : `${paint(style, 'cyan', key)}:`;
    if (isObject(item) && Object.keys(item).length > 0) {
      lines.push(`${indent}${label}`);
      lines.push(formatValue(item, style, `${indent}  `));
    } else if (Array.isArray(item) && item.some((x) => isObject(x) || Array.isArray(x))) {
      lines.push(`${indent}${label}`);
      lines.push(formatValue(item, style, `${indent}  `));
    } else if (Array.isArray(item)) {
      lines.push(`${indent}${label} ${item.length === 0 ? '(none)' : item.map(scalar).join(', ')}`);
    } else {
      lines.push(`${indent}${label} ${scalar(item)}`);
    }
  }
  return lines.join('\n');
}

/** `SUCCESS: details` / `FAIL: details`, then every other field indented. */
export function formatRd(rd: Record<string, unknown>, style: Style): string {
  const result = String(rd['result']);
  const head = `${paint(style, statusColour(result), result)}: ${scalar(rd['details'] ?? '')}`;
  const rest = Object.fromEntries(Object.entries(rd).filter(([k]) => k !== 'result' && k !== 'details'));
  return Object.keys(rest).length === 0 ? head : `${head}\n${formatValue(rest, style, '  ')}`;
}

interface StatusServer {
  role?: unknown;
  enabled?: unknown;
  status?: unknown;
  status_message?: unknown;
  lag_mb?: unknown;
  timeline?: unknown;
  fenced?: unknown;
}

const ROLE_ORDER: Readonly<Record<string, number>> = { master: 0, replica: 1 };

function sortServers(servers: Record<string, StatusServer>): [string, StatusServer][] {
  return Object.entries(servers).sort(([an, a], [bn, b]) => {
    const ae = a.enabled === false ? 1 : 0;
    const be = b.enabled === false ? 1 : 0;
    if (ae !== be) return ae - be;
    const ar = ROLE_ORDER[String(a.role)] ?? 2;
    const br = ROLE_ORDER[String(b.role)] ?? 2;
    return ar !== br ? ar - br : an.localeCompare(bn);
  });
}

function lagText(server: StatusServer): string {
  if (server.role !== 'replica' || typeof server.lag_mb !== 'number') return '-';
  return server.lag_mb.toFixed(1);
}

/**
 * The SYNC column: `sync` for a recorded synchronous member, `pending` for a member recorded
 * before its quorum counts (just named, or asynchronous), `-` otherwise.
 */
function syncText(sync: unknown, name: string): string {
  if (!isObject(sync) || !isObject(sync['recorded'])) return '-';
  const recorded = sync['recorded'];
  const members = Array.isArray(recorded['members']) ? recorded['members'] : [];
  if (!members.includes(name)) return '-';
  return typeof recorded['quorum'] === 'number' && recorded['quorum'] > 0 ? 'sync' : 'pending';
}

/** "synchronous_mode on (ANY 1): george, paul since 09:41 — reason" */
function syncSummary(sync: Record<string, unknown>): string {
  const recorded = isObject(sync['recorded']) ? sync['recorded'] : null;
  const method = sync['method'] === 'first' ? 'FIRST' : 'ANY';
  const head = `synchronous_mode ${scalar(sync['mode'])} (${method} ${scalar(sync['node_count'])})`;
  if (recorded === null) return `${head}: no set recorded yet`;
  const members = Array.isArray(recorded['members']) && recorded['members'].length > 0 ? recorded['members'].join(', ') : 'none';
  const quorum = recorded['quorum'] === 0 ? 'asynchronous' : `quorum ${scalar(recorded['quorum'])}`;
  const since = typeof recorded['at'] === 'string' ? ` since ${shortTime(recorded['at'])}` : '';
  return `${head}: ${quorum} of ${members}${since} — ${scalar(recorded['reason'])}`;
}

/**
 * The cluster table from get_status (statuses) and, when available, get_server_info (lag and
 * timeline, which get_status does not carry).
 */
export function formatStatus(status: unknown, info: unknown, style: Style): string {
  const report = isObject(status) ? status : {};
  const servers = isObject(report['servers']) ? (report['servers'] as Record<string, StatusServer>) : {};
  const facts = isObject(info) ? (info as Record<string, StatusServer>) : {};
  const sync = report['sync'];
  // Only under synchronous_mode (or while a set it left is still recorded).
  const showSync = isObject(sync) && (sync['mode'] !== 'off' || isObject(sync['recorded']));
  const rows = sortServers(servers).map(([name, s]): string[] => {
    const f = facts[name] ?? {};
    const flags = [s.enabled === false ? 'disabled' : null, f.fenced === true ? 'fenced' : null].filter((x) => x !== null);
    const role = `${scalar(s.role)}${flags.length > 0 ? ` (${flags.join(', ')})` : ''}`;
    const lag = lagText({ ...f, role: s.role });
    const timeline = typeof f.timeline === 'number' ? String(f.timeline) : '-';
    return [name, role, scalar(s.status), lag, timeline, ...(showSync ? [syncText(report['sync'], name)] : []), scalar(s.status_message)];
  });
  const cluster = isObject(report['cluster']) ? report['cluster'] : {};
  const clusterStatus = scalar(cluster['status']);
  const clusterLine = `cluster: ${paint(style, statusColour(clusterStatus), paint(style, 'bold', clusterStatus))} — ${scalar(cluster['status_message'])}${typeof cluster['status_ts'] === 'string' ? paint(style, 'dim', ` (${shortTime(cluster['status_ts'])})`) : ''}`;
  const pausedLine = cluster['paused'] === true ? `\n${paint(style, 'bold', 'failover PAUSED')}${pauseText(cluster)}: nothing fails over automatically until resume` : '';
  if (rows.length === 0) return `${clusterLine}${pausedLine}\n(no servers)`;
  const body = table(['NAME', 'ROLE', 'STATUS', 'LAG (MB)', 'TIMELINE', ...(showSync ? ['SYNC'] : []), 'MESSAGE'], rows, {
    right: [3, 4],
    style,
    cutLast: true,
    colour: (_row, col, text) => (col === 2 ? statusColour(text) : col === 0 ? 'bold' : null),
  });
  const syncLine = showSync ? `\n${syncSummary(sync)}` : '';
  const lead = isObject(report['leadership']) ? `\n${leadershipLine(report['leadership'])}` : '';
  return `${body}\n${clusterLine}${pausedLine}${syncLine}${lead}`;
}

/** etcd_lease: "leader: this controller (term 7)" or "leader: <id> at <url> (term 7); data 0.8 s old". */
function leadershipLine(l: Record<string, unknown>): string {
  const term = typeof l['term'] === 'string' ? ` (term ${l['term']})` : '';
  if (l['leading'] === true) return `leader: this controller${term}`;
  if (typeof l['leader'] !== 'string') return `leader: none${typeof l['stale_reason'] === 'string' ? ` — ${l['stale_reason']}` : ''}; statuses may be stale`;
  const url = typeof l['leader_url'] === 'string' ? ` at ${l['leader_url']}` : '';
  const age = typeof l['data_age_ms'] === 'number' ? `; statuses as stored ${(l['data_age_ms'] / 1000).toFixed(1)} s ago` : '';
  return `leader: controller ${scalar(l['leader'])}${url}${term}${age}`;
}

/** " by alice since 12:00 (reason)" from a cluster status's pause fields. */
function pauseText(cluster: Record<string, unknown>): string {
  const by = typeof cluster['paused_by'] === 'string' ? ` by ${cluster['paused_by']}` : '';
  const since = typeof cluster['paused_at'] === 'string' ? ` since ${shortTime(cluster['paused_at'])}` : '';
  const why = typeof cluster['paused_reason'] === 'string' ? ` (${cluster['paused_reason']})` : '';
  return `${by}${since}${why}`;
}

/** `2025-11-22T04:30:01.123Z` → `2025-11-22 04:30:01Z`. */
export function shortTime(ts: unknown): string {
  if (typeof ts !== 'string') return '-';
  const m = /^(\d{4}-\d\d-\d\d)T(\d\d:\d\d:\d\d)(?:\.\d+)?(Z|[+-]\d\d:\d\d)?$/.exec(ts);
  return m ? `${m[1]} ${m[2]}${m[3] ?? ''}` : ts;
}

const LEVEL_COLOURS: Readonly<Record<string, Colour>> = { error: 'red', warn: 'yellow', info: 'green', debug: 'dim' };

/** read_log entries (newest first from the API), printed oldest first. */
export function formatLog(entries: unknown, style: Style): string {
  if (!Array.isArray(entries)) return formatValue(entries, style);
  if (entries.length === 0) return '(no log entries)';
  const rows = [...entries].reverse().map((e): string[] => {
    const entry = isObject(e) ? e : {};
    const alert = typeof entry['alert'] === 'string' ? ` ${entry['alert']}` : '';
    return [shortTime(entry['ts']), `${String(entry['level'] ?? '').toUpperCase()}${alert}`, scalar(entry['category']), typeof entry['server'] === 'string' ? entry['server'] : '', scalar(entry['message'])];
  });
  return table(null, rows, {
    style: { ...style, columns: null },
    colour: (row, col) => {
      if (col === 0) return 'dim';
      if (col !== 1) return null;
      const entry = [...entries].reverse()[row];
      return LEVEL_COLOURS[String(isObject(entry) ? entry['level'] : '')] ?? null;
    },
  });
}

/** failover_history records (newest first from the API), printed oldest first. */
export function formatHistory(records: unknown, style: Style): string {
  if (!Array.isArray(records)) return formatValue(records, style);
  if (records.length === 0) return '(no failovers, switchovers or promotions yet)';
  const rows = [...records].reverse().map((r): string[] => {
    const rec = isObject(r) ? r : {};
    const ms = rec['duration_ms'];
    const duration = typeof ms === 'number' ? `${(ms / 1000).toFixed(1)} s` : '-';
    return [shortTime(rec['started']), scalar(rec['kind']), `${scalar(rec['from'])} → ${scalar(rec['to'])}`, scalar(rec['outcome']), duration, scalar(rec['details'])];
  });
  return table(['STARTED', 'KIND', 'FROM → TO', 'OUTCOME', 'DURATION', 'DETAILS'], rows, {
    right: [4],
    style: { ...style, columns: null },
    colour: (_row, col, text) => (col === 3 ? (text === 'SUCCESS' ? 'green' : text === 'RUNNING' ? 'yellow' : 'red') : col === 0 ? 'dim' : null),
  });
}

/** get_server_info / get_servers_by_role: one block per server, its status on the first line. */
export function formatServers(servers: unknown, style: Style): string {
  if (!isObject(servers)) return formatValue(servers, style);
  const entries = sortServers(servers as Record<string, StatusServer>);
  if (entries.length === 0) return '(no servers)';
  return entries
    .map(([name, s]) => {
      const record = s as Record<string, unknown>;
      const status = scalar(record['status']);
      const head = `${paint(style, 'bold', name)} (${scalar(record['role'])}${record['enabled'] === false ? ', disabled' : ''}${record['fenced'] === true ? ', fenced' : ''}): ${paint(style, statusColour(status), status)} — ${scalar(record['status_message'])}`;
      const rest = Object.fromEntries(Object.entries(record).filter(([k]) => !['status', 'status_message', 'role', 'enabled'].includes(k)));
      return `${head}\n${formatValue(rest, style, '  ')}`;
    })
    .join('\n\n');
}

/** A clone's progress line from a server's action_progress. */
export function formatActionProgress(progress: unknown): string | null {
  if (!isObject(progress)) return null;
  const parts = [String(progress['phase'] ?? progress['state'] ?? '')];
  if (typeof progress['percent'] === 'number') parts.push(`${Math.round(progress['percent'])}%`);
  const done = progress['bytes_done'];
  const total = progress['bytes_total'];
  if (typeof done === 'number') parts.push(typeof total === 'number' ? `(${bytes(done)} of ${bytes(total)})` : `(${bytes(done)})`);
  return parts.filter((p) => p !== '').join(' ');
}

export function bytes(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

/** The human output of any operation's answer. */
export function formatResult(name: string, value: unknown, style: Style): string {
  if (isRd(value)) return formatRd(value, style);
  switch (name) {
    case 'read_log':
      return formatLog(value, style);
    case 'failover_history':
      return formatHistory(value, style);
    case 'get_server_info':
    case 'get_servers_by_role':
      return formatServers(value, style);
    case 'get_cluster_status':
      if (isObject(value)) return `cluster: ${paint(style, statusColour(scalar(value['status'])), scalar(value['status']))} — ${scalar(value['status_message'])}`;
      return formatValue(value, style);
    case 'get_master_name':
      return value === null ? '(no enabled master)' : scalar(value);
    case 'get_agents':
      return formatAgents(value, style);
    default:
      return formatValue(value, style);
  }
}
