/**
 * The value of `commands/<node>/<id>` (design §9) and the pure decisions about it. One key per
 * command, written three times at most, each time by one party:
 *   1. the leader writes `command` (term-guarded: only while its term holds);
 *   2. the agent adds `started` (compare-and-set on the key's revision) just before it runs it;
 *   3. the agent adds `result` (compare-and-set again), once. The leader reads it and deletes the key.
 * A record that has `started` from another agent process but no `result` was in flight when that
 * agent died: it is answered `interrupted`, never run again.
 */
import { randomBytes } from 'node:crypto';
import { NAME_PATTERN } from '../../config/validators.js';
import { HandyRepError } from '../../model/errors.js';
import type { CommandResult } from '../../nodes/ports.js';

/** What the leader writes. `request` is checked by the agent (command-table.ts), not here. */
export interface CommandPart {
  readonly id: string;
  readonly node: string;
  /** The writing leader's term (create revision of its `leader` key). */
  readonly term: string;
  readonly controller: string;
  readonly written_at: string;
  /** How long the command may run on the node; the agent kills it after that. */
  readonly timeout_ms: number;
  readonly request: unknown;
  readonly stdin: string | null;
}

export interface StartedPart {
  /** The agent process that took it (a random id per process). */
  readonly by: string;
  readonly at: string;
}

/**
 * Set by the agent on a command that must wait for its turn (another command, or the agent's boot,
 * runs on the node): the controller then waits for it longer than the pickup time (node-lock.ts).
 */
export interface QueuedPart {
  /** What runs ahead of it. */
  readonly behind: string;
  readonly at: string;
}

/** How far a long command (a clone's copy) is, written by the agent while it runs (at most once a second). */
export interface ProgressPart {
  readonly bytes_done: number | null;
  readonly bytes_total: number | null;
  readonly at: string;
}

/** Why an agent answered without running anything (or without finishing). */
export type RefusalKind = 'stale_term' | 'invalid' | 'interrupted' | 'failed' | 'busy';

export interface ResultPart {
  readonly exit_code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly timed_out: boolean;
  readonly duration_ms: number;
  /** Set when nothing (or not all) ran: what, and the reason in a sentence. */
  readonly refused: { readonly kind: RefusalKind; readonly message: string } | null;
}

export interface CommandRecord {
  readonly command: CommandPart;
  readonly started: StartedPart | null;
  readonly result: ResultPart | null;
  /** Absent or null: not (yet) made to wait. */
  readonly queued?: QueuedPart | null;
  /** Absent or null: no progress reported (yet). */
  readonly progress?: ProgressPart | null;
}

/** Output kept per stream in a result (the tail), so a record stays small. */
export const OUTPUT_LIMIT = 16_384;

export function truncateOutput(text: string): string {
  return text.length <= OUTPUT_LIMIT ? text : `[… ${text.length - OUTPUT_LIMIT} characters cut]\n${text.slice(-OUTPUT_LIMIT)}`;
}

export function encodeCommandRecord(record: CommandRecord): string {
  return JSON.stringify(record);
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** The record in a key's value; anything else is a STORE_DATA error naming the key. */
export function parseCommandRecord(key: string, value: string): CommandRecord {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    parsed = null;
  }
  const fail = (what: string): never => {
    throw new HandyRepError('STORE_DATA', `etcd key ${key} does not hold a command record: ${what}`);
  };
  if (!isObject(parsed) || !isObject(parsed['command'])) return fail('no "command" object');
  const c = parsed['command'];
  if (typeof c['id'] !== 'string' || !NAME_PATTERN.test(c['id'])) fail('command.id is not a name');
  if (typeof c['node'] !== 'string' || !NAME_PATTERN.test(c['node'])) fail('command.node is not a name');
  if (typeof c['term'] !== 'string' || !/^\d{1,20}$/.test(c['term'])) fail('command.term is not a revision number');
  if (typeof c['controller'] !== 'string') fail('command.controller is not a string');
  if (typeof c['written_at'] !== 'string') fail('command.written_at is not a string');
  if (typeof c['timeout_ms'] !== 'number' || !Number.isInteger(c['timeout_ms']) || c['timeout_ms'] < 1 || c['timeout_ms'] > 86_400_000) fail('command.timeout_ms is not a whole number of milliseconds up to a day');
  if (!(typeof c['stdin'] === 'string' || c['stdin'] === null)) fail('command.stdin is neither text nor null');
  const started = parsed['started'] ?? null;
  if (started !== null && (!isObject(started) || typeof started['by'] !== 'string' || typeof started['at'] !== 'string')) fail('"started" is not {by, at}');
  const result = parsed['result'] ?? null;
  if (result !== null && !isResult(result)) fail('"result" is not a result');
  const queued = parsed['queued'] ?? null;
  if (queued !== null && (!isObject(queued) || typeof queued['behind'] !== 'string' || typeof queued['at'] !== 'string')) fail('"queued" is not {behind, at}');
  const progress = parsed['progress'] ?? null;
  const count = (v: unknown): boolean => v === null || (typeof v === 'number' && Number.isFinite(v) && v >= 0);
  if (progress !== null && (!isObject(progress) || !count(progress['bytes_done']) || !count(progress['bytes_total']) || typeof progress['at'] !== 'string')) fail('"progress" is not {bytes_done, bytes_total, at}');
  const base = { command: c as unknown as CommandPart, started: started as StartedPart | null, result: result as ResultPart | null };
  return { ...base, ...(queued === null ? {} : { queued: queued as unknown as QueuedPart }), ...(progress === null ? {} : { progress: progress as unknown as ProgressPart }) };
}

function isResult(value: unknown): value is ResultPart {
  if (!isObject(value)) return false;
  const refused = value['refused'];
  return (
    (typeof value['exit_code'] === 'number' || value['exit_code'] === null) &&
    typeof value['stdout'] === 'string' &&
    typeof value['stderr'] === 'string' &&
    typeof value['timed_out'] === 'boolean' &&
    typeof value['duration_ms'] === 'number' &&
    (refused === null || (isObject(refused) && typeof refused['kind'] === 'string' && typeof refused['message'] === 'string'))
  );
}

/** What an agent does with a record it reads. */
export type RecordVerdict =
  | { readonly kind: 'skip'; readonly why: string }
  | { readonly kind: 'interrupted' }
  | { readonly kind: 'stale_term'; readonly message: string }
  | { readonly kind: 'run' };

/**
 * The agent's decision on one record (pure): answered → skip; taken by this process → skip (in
 * flight); taken by an earlier process → interrupted (never run twice); written under a term that is
 * not the current `leader` key's (null: no leader) → stale; else run.
 */
export function judgeRecord(record: CommandRecord, agentProcess: string, leaderTerm: string | null): RecordVerdict {
  if (record.result !== null) return { kind: 'skip', why: 'already answered' };
  if (record.started !== null) return record.started.by === agentProcess ? { kind: 'skip', why: 'running' } : { kind: 'interrupted' };
  if (leaderTerm === null) return { kind: 'stale_term', message: `stale term: command written under term ${record.command.term}, and no controller leads now` };
  if (leaderTerm !== record.command.term) {
    return { kind: 'stale_term', message: `stale term: command written under term ${record.command.term} by ${record.command.controller}, the current leader's term is ${leaderTerm}` };
  }
  return { kind: 'run' };
}

/** A result that ran nothing. */
export function refusal(kind: RefusalKind, message: string): ResultPart {
  return { exit_code: null, stdout: '', stderr: message, timed_out: false, duration_ms: 0, refused: { kind, message } };
}

/**
 * The most stdout a command whose output must not be cut (an archive listing: about 18,000 files)
 * may answer; etcd takes values up to 1.5 MiB by default.
 */
export const WHOLE_OUTPUT_LIMIT = 1_000_000;

/** A result from what ran (output truncated to its tail); `whole`: stdout whole or a `failed` refusal. */
export function resultOf(run: CommandResult, whole = false): ResultPart {
  if (whole && run.stdout.length > WHOLE_OUTPUT_LIMIT) {
    return refusal('failed', `output too long to answer whole (${run.stdout.length} characters, at most ${WHOLE_OUTPUT_LIMIT}): not answered in part`);
  }
  if (whole) return { exit_code: run.exitCode, stdout: run.stdout, stderr: truncateOutput(run.stderr), timed_out: run.timedOut, duration_ms: Math.round(run.durationMs), refused: null };
  return { exit_code: run.exitCode, stdout: truncateOutput(run.stdout), stderr: truncateOutput(run.stderr), timed_out: run.timedOut, duration_ms: Math.round(run.durationMs), refused: null };
}

/**
 * The controller's side: an agent's result as a NodeShell's (ports.ts). A refusal throws as the ssh
 * path does when a command cannot be run: CONTROL_CHANNEL (NOT_LEADER for a stale term: the term
 * this controller wrote under is over).
 */
export function shellResultOf(node: string, action: string, result: ResultPart): CommandResult {
  if (result.refused !== null) {
    const code = result.refused.kind === 'stale_term' ? 'NOT_LEADER' : 'CONTROL_CHANNEL';
    throw new HandyRepError(code, `agent ${node}: ${action} refused (${result.refused.kind}): ${result.refused.message}`);
  }
  return { exitCode: result.exit_code, stdout: result.stdout, stderr: result.stderr, timedOut: result.timed_out, durationMs: result.duration_ms };
}

/**
 * Command ids: a zero-padded microsecond-ish counter (never repeats nor goes back within a
 * process, even if the clock does) and a random suffix (two controllers in the same instant).
 * Lexical order is issue order, so an agent's scan runs them in that order.
 */
export class CommandIds {
  #last = 0;
  constructor(
    private readonly nowMs: () => number = Date.now,
    private readonly suffix: () => string = () => randomBytes(3).toString('hex'),
  ) {}

  next(): string {
    this.#last = Math.max(this.nowMs() * 1000, this.#last + 1);
    return `${String(this.#last).padStart(17, '0')}-${this.suffix()}`;
  }
}
