/**
 * The agents' member records as operators see them (get_agents, the CLI's `agents`, the
 * dashboard's Agent panel): one entry per configured server, present or not, and one per record
 * under a node name the configuration does not have. Read with the controller's own lenient
 * parsers (parseMemberView, bootStepOf over memberFields): records come from agents of any
 * version, and what they say reaches terminals and pages, so every text is made printable. Pure.
 */
import type { AgentEntry, AgentsReport, AgentState } from '../model/agent-report.js';
import { lsnDiff, parseLsn } from '../model/lsn.js';
import { bootStepOf } from '../nodes/boot-step-busy.js';
import { recordFresh } from '../agent/master-lag.js';
import { furthestLsn } from '../agent/election/position-rules.js';
import { memberFields } from '../store/etcd/member-json.js';
import { parseMemberView, type MemberView } from '../store/etcd/member-view.js';

export interface AgentsReportInput {
  /** The member records' texts by etcd key, as read (`<prefix>members/<node>`). */
  readonly records: Readonly<Record<string, string>>;
  /** The members folder's key prefix (`<prefix>members/`). */
  readonly membersPrefix: string;
  /** The configured servers' names, in configuration order. */
  readonly servers: readonly string[];
  readonly nowMs: number;
  readonly staleAfterMs: number;
  readonly revision: string;
}

const TEXT_LIMIT = 200;

/** Shown to people: printable ASCII only (no terminal escapes), bounded. */
function printable(text: string): string {
  const clean = text.replace(/[^\x20-\x7e]/g, '?');
  return clean.length > TEXT_LIMIT ? `${clean.slice(0, TEXT_LIMIT - 1)}…` : clean;
}

function textOf(value: unknown): string | null {
  return typeof value === 'string' ? printable(value) : null;
}

function lsnOf(value: unknown): string | null {
  return typeof value === 'string' ? parseLsn(value) : null;
}

const EMPTY: Omit<AgentEntry, 'configured' | 'state' | 'problem'> = {
  observed_at: null, age_ms: null, record_name: null, role: null, postgres: null, in_recovery: null, timeline: null,
  wal_position: null, received_lsn: null, replayed_lsn: null, lag_bytes: null, wal_receiver: null, sender_host: null,
  recorded_master: null, master_probed: null, sees_master: null, sees_master_detail: null, probed_at: null,
  boot_step: null, server_version: null, agent_version: null,
};

/** How old a record is, or null when its time is missing or not a time. */
function ageMs(view: MemberView, nowMs: number): number | null {
  const at = view.observed_at === null ? Number.NaN : Date.parse(view.observed_at);
  return Number.isFinite(at) ? nowMs - at : null;
}

function seconds(ms: number): string {
  return (Math.abs(ms) / 1000).toFixed(1);
}

function stateOf(node: string, view: MemberView, age: number | null, input: AgentsReportInput): { state: AgentState; problem: string | null } {
  if (view.name !== node) return { state: 'misnamed', problem: `the record under this key names ${printable(view.name)}: an agent writes under another node's key (not counted as ${node}'s agent)` };
  if (recordFresh(view, input.nowMs, input.staleAfterMs)) return { state: 'reporting', problem: null };
  const bound = `stale after ${seconds(input.staleAfterMs)} s`;
  if (age === null) return { state: 'stale', problem: `the record has no observation time (${bound})` };
  if (age < 0) return { state: 'stale', problem: `the record is ${seconds(age)} s ahead of this controller's clock (${bound}): the clocks differ` };
  return { state: 'stale', problem: `stale record, ${seconds(age)} s old (${bound}): the agent has stopped rewriting it` };
}

/** One record's entry, without its lag (which needs the master's entry). */
function entryOf(node: string, text: string | undefined, configured: boolean, input: AgentsReportInput): AgentEntry {
  const unknown = configured ? null : 'no server of that name is configured';
  if (text === undefined) {
    return { ...EMPTY, configured, state: 'missing', problem: 'no member record: the agent is not running or cannot reach etcd, or its member lease expired' };
  }
  const view = parseMemberView(text);
  const fields = memberFields(text);
  if (view === null || fields === null) {
    return { ...EMPTY, configured, state: 'unreadable', problem: 'the record is not a member record (a JSON object with the name and postgres fields)' };
  }
  const age = ageMs(view, input.nowMs);
  const { state, problem } = stateOf(node, view, age, input);
  return {
    configured,
    state,
    problem: problem ?? unknown,
    observed_at: view.observed_at === null ? null : printable(view.observed_at),
    age_ms: age,
    record_name: printable(view.name),
    role: view.role,
    postgres: printable(view.postgres),
    in_recovery: typeof fields['in_recovery'] === 'boolean' ? fields['in_recovery'] : null,
    timeline: view.timeline ?? null,
    wal_position: lsnOf(view.wal_position),
    received_lsn: lsnOf(fields['received_lsn']),
    replayed_lsn: lsnOf(fields['replayed_lsn']),
    lag_bytes: null,
    wal_receiver: textOf(fields['wal_receiver']),
    sender_host: textOf(fields['sender_host']),
    recorded_master: textOf(fields['recorded_master']),
    master_probed: view.master_probed === null ? null : printable(view.master_probed),
    sees_master: view.sees_master,
    sees_master_detail: view.sees_master_detail === null ? null : printable(view.sees_master_detail),
    probed_at: view.probed_at === null ? null : printable(view.probed_at),
    boot_step: bootStepOf(text),
    server_version: textOf(fields['server_version']),
    agent_version: typeof fields['agent_version'] === 'number' && Number.isInteger(fields['agent_version']) ? fields['agent_version'] : null,
  };
}

/** A replica's distance to the position its recorded master's agent published; null when either is unknown. */
function lagOf(entry: AgentEntry, entries: ReadonlyMap<string, AgentEntry>): number | null {
  if (entry.state !== 'reporting' || entry.role !== 'replica' || entry.recorded_master === null) return null;
  const master = entries.get(entry.recorded_master);
  if (master === undefined || master.state !== 'reporting' || master.role !== 'master' || master.postgres !== 'running') return null;
  const target = parseLsn(master.wal_position);
  const own = furthestLsn(entry.received_lsn, entry.replayed_lsn);
  return target === null || own === null ? null : Math.max(0, lsnDiff(target, own));
}

export function agentsReport(input: AgentsReportInput): AgentsReport {
  const texts = new Map<string, string>();
  for (const [key, text] of Object.entries(input.records)) {
    if (key.startsWith(input.membersPrefix)) texts.set(printable(key.slice(input.membersPrefix.length)), text);
  }
  const configured = new Set(input.servers);
  const unknown = [...texts.keys()].filter((node) => !configured.has(node)).sort();
  const entries = new Map<string, AgentEntry>();
  for (const node of input.servers) entries.set(node, entryOf(node, texts.get(node), true, input));
  for (const node of unknown) entries.set(node, entryOf(node, texts.get(node), false, input));
  // Own properties, also for a record under members/__proto__ (an assignment would set the prototype).
  const agents: Record<string, AgentEntry> = Object.fromEntries([...entries].map(([node, entry]) => [node, { ...entry, lag_bytes: lagOf(entry, entries) }]));
  // The object alone would list integer-like names ("1", "42") first: the order travels beside it.
  return { read_at: new Date(input.nowMs).toISOString(), revision: input.revision, stale_after_ms: input.staleAfterMs, agents, order: [...entries.keys()] };
}
