/**
 * `handyrep agents` (get_agents) for people: one line per node with what its agent last published,
 * problems in the last column. Pure; the answer is read leniently (any daemon version may answer).
 */
import { agentNamesInOrder } from '../model/agent-report.js';
import { paint, shortTime, table, type Style } from './format.js';

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const text = (value: unknown): string => (typeof value === 'string' ? value : typeof value === 'number' ? String(value) : '-');

function seconds(ms: unknown): string {
  return typeof ms === 'number' ? `${(ms / 1000).toFixed(1)} s` : '?';
}

/** "ok 1.2 s", "STALE 12.0 s", "MISSING", ... */
function agentCell(entry: Record<string, unknown>): string {
  const state = text(entry['state']);
  if (state === 'reporting') return `ok ${seconds(entry['age_ms'])}`;
  if (state === 'stale') return `STALE ${seconds(entry['age_ms'])}`;
  return state.toUpperCase();
}

/** "copy from john since 10:00:01Z (reclone)" or "-". */
export function bootCell(step: unknown): string {
  if (!isObject(step)) return '-';
  const source = typeof step['source'] === 'string' ? ` from ${step['source']}` : '';
  const since = typeof step['since'] === 'string' ? ` since ${shortTime(step['since']).slice(11)}` : '';
  return `${text(step['step'])}${source}${since}${step['reclone'] === true ? ' (reclone)' : ''}`;
}

function seesCell(entry: Record<string, unknown>): string {
  if (entry['sees_master'] === true) return `yes (${text(entry['master_probed'])})`;
  if (entry['sees_master'] === false) return `NO (${text(entry['master_probed'])})`;
  return '-';
}

function lagCell(entry: Record<string, unknown>): string {
  return typeof entry['lag_bytes'] === 'number' ? (entry['lag_bytes'] / 1048576).toFixed(1) : '-';
}

/** The problem, else why the agent does not see the master, else nothing. */
function noteCell(entry: Record<string, unknown>): string {
  if (typeof entry['problem'] === 'string') return entry['problem'];
  if (entry['sees_master'] === false && typeof entry['sees_master_detail'] === 'string') return entry['sees_master_detail'];
  return '';
}

export function formatAgents(report: unknown, style: Style): string {
  if (!isObject(report) || !isObject(report['agents'])) return '(not an answer of get_agents)';
  const agents = report['agents'];
  const entries = agentNamesInOrder(agents, report['order'])
    .map((name): [string, unknown] => [name, agents[name]])
    .filter((e): e is [string, Record<string, unknown>] => isObject(e[1]));
  const footer = paint(style, 'dim', `member records read at ${shortTime(report['read_at'])} (etcd revision ${text(report['revision'])}); stale after ${seconds(report['stale_after_ms'])}`);
  if (entries.length === 0) return `(no servers and no member records)\n${footer}`;
  const rows = entries.map(([name, e]) => [
    `${name}${e['configured'] === false ? ' (not configured)' : ''}`,
    agentCell(e),
    text(e['role']),
    text(e['postgres']),
    text(e['timeline']),
    lagCell(e),
    seesCell(e),
    bootCell(e['boot_step']),
    noteCell(e),
  ]);
  const body = table(['NAME', 'AGENT', 'ROLE', 'POSTGRES', 'TL', 'LAG (MB)', 'SEES MASTER', 'BOOT STEP', 'NOTE'], rows, {
    right: [4, 5],
    style,
    cutLast: true,
    colour: (row, col, cell) => {
      if (col === 0) return 'bold';
      if (col === 1) return cell.startsWith('ok') ? 'green' : cell.startsWith('STALE') ? 'yellow' : 'red';
      if (col === 6 && cell.startsWith('NO')) return 'red';
      if (col === 7 && cell !== '-') return 'yellow';
      return entries[row]?.[1]['configured'] === false ? 'yellow' : null;
    },
  });
  // An empty note leaves the padding of the columns before it: no trailing blanks.
  return `${body.split('\n').map((l) => l.trimEnd()).join('\n')}\n${footer}`;
}
