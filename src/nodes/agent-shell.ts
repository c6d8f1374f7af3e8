/**
 * The control channel of a server under `control_method: agent`: instead of running an argv over
 * ssh, the leading controller writes the node action it stands for (command-table.ts) to
 * `commands/<node>/<id>`, term-guarded like every leader write, and waits for the node's agent to
 * answer in the same record. The argv itself never leaves the controller.
 *
 * Errors as the ssh path gives them: an argv that is not a table action, or an agent that does not
 * take the command within the pickup time (agent down, node cut off from etcd), or that took it
 * but never answered, is CONTROL_CHANNEL — what an unreachable host is for ssh, so fencing and
 * failover judge both alike. The record is deleted once answered or given up (an agent cannot take
 * a deleted record: its start is a compare-and-set).
 */
import { identifyCommand, type CommandRequest, type IdentifyContext } from '../agent/commands/command-table.js';
import { CommandIds, encodeCommandRecord, parseCommandRecord, refusal, shellResultOf, type CommandRecord } from '../agent/commands/command-record.js';
import { bootStepOf, busyBehindBootStep } from './boot-step-busy.js';
import { describeError, HandyRepError } from '../model/errors.js';
import type { EtcdContext } from '../store/etcd/client.js';
import { termCompares, type LeadershipGuard } from '../store/etcd/guarded-txn.js';
import { judgeLeaderKey, type Term } from '../store/etcd/leader-record.js';
import { withDeadline } from '../store/etcd/store-error.js';
import { judgeMember, NO_MEMBER_SEEN } from './agent-gone.js';
import type { CommandOptions, CommandResult, NodeShell, WholeNodeAction } from './ports.js';

/** What every AgentShell of a controller shares: etcd, the leadership, how to identify argvs. */
export interface AgentChannel {
  readonly ctx: EtcdContext;
  readonly leadership: LeadershipGuard;
  readonly controllerId: string;
  identify(): IdentifyContext;
  /** How long an agent may take to pick a command up (its watch; a loaded node). */
  readonly pickupMs: number;
  readonly pollMs?: number;
  readonly ids?: CommandIds;
}

const sharedIds = new CommandIds();

/** How often a running command's agent is looked for (its member key): about once a second. */
const MEMBER_READ_MS = 1000;

/** A long command's progress as its agent reports it (a clone's copy). */
type Progress = (bytesDone: number | null, bytesTotal: number | null) => void;

export class AgentShell implements NodeShell {
  readonly description: string;

  constructor(
    private readonly node: string,
    private readonly channel: AgentChannel,
  ) {
    this.description = `agent ${node} (etcd commands/${node}/)`;
  }

  async run(argv: readonly string[], options: CommandOptions): Promise<CommandResult> {
    if (options.env !== undefined && Object.keys(options.env).length > 0) {
      throw new HandyRepError('CONTROL_CHANNEL', `${this.description}: environment variables cannot be passed to an agent's command`);
    }
    const identified = identifyCommand(argv, options.stdin, this.channel.identify());
    if ('refused' in identified) throw new HandyRepError('CONTROL_CHANNEL', `${this.description}: ${identified.refused}`);
    return this.send(identified.request, identified.stdin, options.timeoutMs);
  }

  /** Whole actions (the rewind, a clone's copy): see NodeShell.runAction. */
  runAction(request: WholeNodeAction, timeoutMs: number, progress?: Progress, signal?: AbortSignal): Promise<CommandResult> {
    return this.send(request, null, timeoutMs, progress, signal);
  }

  async close(): Promise<void> {
    // Nothing held: the etcd client belongs to the controller.
  }

  /** `signal`: cancels — the record is deleted, and an agent running a clone stops it when it sees that. */
  async send(request: CommandRequest, stdin: string | null, timeoutMs: number, progress?: Progress, signal?: AbortSignal): Promise<CommandResult> {
    const { ctx, leadership } = this.channel;
    const term = leadership.current;
    if (term === null) throw new HandyRepError('NOT_LEADER', `${this.description}: ${request.action} not sent: this controller does not lead`);
    const id = (this.channel.ids ?? sharedIds).next();
    const key = ctx.keys.command(this.node, id);
    const record: CommandRecord = {
      command: { id, node: this.node, term: term.term, controller: this.channel.controllerId, written_at: new Date().toISOString(), timeout_ms: Math.max(1, Math.round(timeoutMs)), request, stdin },
      started: null,
      result: null,
    };
    try {
      await this.#create(key, encodeCommandRecord(record), term, request.action);
      return shellResultOf(this.node, request.action, await this.#awaitResult(key, request.action, timeoutMs, progress, signal));
    } finally {
      // Also after a send that failed or timed out: it may have been applied (an etcd retry).
      await this.#delete(key);
    }
  }

  /**
   * Writes the record only if the leader key is still our term's AND the command key does not
   * exist yet (create-only: an etcd client retry of an applied put cannot reset a record the agent
   * already took), under the leader's lease (a deposed or dead leader's unanswered commands vanish
   * with it, and the agent's take — a compare-and-set — then fails).
   */
  async #create(key: string, value: string, term: Term, action: string): Promise<void> {
    const { ctx, leadership } = this.channel;
    const commandKey = Buffer.from(key);
    const reply = await withDeadline(`send ${action} to the agent of ${this.node}`, ctx.deadlineMs, () =>
      ctx.client.kv.txn({
        compare: [...termCompares(ctx.keys.leader, term), { key: commandKey, target: 'Create', result: 'Equal', create_revision: '0' }],
        success: [{ request_put: { key: commandKey, value: Buffer.from(value), lease: term.leaseId } }],
        failure: [{ request_range: { key: Buffer.from(ctx.keys.leader) } }, { request_range: { key: commandKey } }],
      }),
    );
    if (reply.succeeded) return;
    const leaderKv = reply.responses[0]?.response_range?.kvs[0] ?? null;
    const judgement = judgeLeaderKey(leaderKv, term);
    if (!judgement.held) {
      leadership.markLost(judgement.reason);
      throw new HandyRepError('NOT_LEADER', `${this.description}: ${action} not sent: this controller no longer leads (term ${term.term}): ${judgement.reason}`);
    }
    // The key exists while we still lead: ids are unique, so it is our own earlier attempt, applied.
  }

  async #delete(key: string): Promise<void> {
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        await withDeadline('delete a command record', this.channel.ctx.deadlineMs, () => this.channel.ctx.client.delete().key(key).exec());
        return;
      } catch {
        // etcd unreachable: try again; a record left behind vanishes with the leader's lease.
      }
    }
  }

  /** Deletes the record if its mod revision is still `modRevision`; false when it changed (or is gone). */
  async #deleteIfUnchanged(key: string, modRevision: string): Promise<boolean> {
    const { ctx } = this.channel;
    const commandKey = Buffer.from(key);
    const reply = await withDeadline('delete a command record as read', ctx.deadlineMs, () =>
      ctx.client.kv.txn({
        compare: [{ key: commandKey, target: 'Mod', result: 'Equal', mod_revision: modRevision }],
        success: [{ request_delete_range: { key: commandKey } }],
        failure: [],
      }),
    );
    return reply.succeeded;
  }

  async #awaitResult(key: string, action: string, timeoutMs: number, progress?: Progress, signal?: AbortSignal): Promise<NonNullable<CommandRecord['result']>> {
    const { ctx, pickupMs } = this.channel;
    const pollMs = this.channel.pollMs ?? 50;
    const sentAt = performance.now();
    let startedAt: number | null = null;
    let queued = false;
    let progressAt: string | null = null;
    let lastError = '';
    let member = NO_MEMBER_SEEN;
    let memberReadAt = -Infinity;
    // A member key never seen: gone after two TTLs without it (agent-gone.ts).
    const neverSeenMs = 2 * ctx.ttlSeconds * 1000;
    for (;;) {
      if (signal?.aborted === true) throw new HandyRepError('CONTROL_CHANNEL', `${this.description}: ${action} cancelled: its record is deleted (an agent running a clone stops it)`);
      try {
        // With its mod revision: a busy answer deletes the record only as read (#deleteIfUnchanged).
        const reply = await ctx.client.kv.range({ key: Buffer.from(key) });
        const kv = reply.kvs[0];
        if (kv === undefined) throw new HandyRepError('CONTROL_CHANNEL', `${this.description}: the record of ${action} disappeared before the agent answered`);
        const record = parseCommandRecord(key, kv.value.toString());
        if (record.progress && record.progress.at !== progressAt) {
          progressAt = record.progress.at;
          progress?.(record.progress.bytes_done, record.progress.bytes_total);
        }
        if (record.result !== null) return record.result;
        if (record.started !== null && startedAt === null) startedAt = performance.now();
        queued = record.queued != null;
        // While it runs or waits (the agent keeps its member key alive during a boot step too: boot-step-keeper.ts).
        if ((startedAt !== null || queued) && performance.now() - memberReadAt >= MEMBER_READ_MS) {
          memberReadAt = performance.now();
          const memberValue = await ctx.client.get(ctx.keys.member(this.node)).string();
          // Made to wait by a long step of the agent's boot (a copy, a rewind): answered busy now, not after its own timeout (boot-step-busy.ts).
          const busy = busyBehindBootStep(this.node, record.queued?.behind ?? null, startedAt !== null, bootStepOf(memberValue));
          // "Nothing run" holds only if the agent cannot take it any more: the record is deleted as read
          // (queued, unstarted); if the agent changed it meanwhile (took it), its result is waited for.
          if (busy !== null && (await this.#deleteIfUnchanged(key, kv.mod_revision))) return refusal('busy', busy);
          const present = memberValue !== null;
          const judged = judgeMember(member, present, memberReadAt, neverSeenMs);
          member = judged.watch;
          if (judged.gone) {
            throw new HandyRepError('CONTROL_CHANNEL', `${this.description}: ${action} interrupted: agent gone (its member key members/${this.node} expired while the command ${startedAt !== null ? 'ran' : 'waited'}: the agent process died, or its node lost etcd for a whole TTL); not waited for until the command's time limit`);
          }
        }
      } catch (err) {
        if (err instanceof HandyRepError && err.code === 'CONTROL_CHANNEL') throw err;
        lastError = `; last etcd error: ${describeError(err)}`;
      }
      const now = performance.now();
      // Made to wait by the agent (another command or its boot runs): it starts within its timeout or is answered busy.
      if (startedAt === null && now - sentAt > pickupMs + (queued ? timeoutMs + pickupMs : 0)) {
        throw new HandyRepError('CONTROL_CHANNEL', `${this.description}: the agent did not take ${action} within ${pickupMs} ms (agent not running, or its node cut off from etcd)${lastError}`);
      }
      if (startedAt !== null && now - startedAt > timeoutMs + pickupMs) {
        throw new HandyRepError('CONTROL_CHANNEL', `${this.description}: the agent took ${action} but gave no result within ${timeoutMs + pickupMs} ms (agent died or cut off)${lastError}`);
      }
      // A long command (a clone) is looked at less often once it has run a while.
      const waitMs = startedAt !== null && now - startedAt > 5000 ? Math.max(pollMs, 500) : pollMs;
      await new Promise((resolve) => setTimeout(resolve, waitMs));
    }
  }
}
