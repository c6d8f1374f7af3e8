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
import { CommandIds, encodeCommandRecord, parseCommandRecord, shellResultOf, type CommandRecord } from '../agent/commands/command-record.js';
import { describeError, HandyRepError } from '../model/errors.js';
import type { EtcdContext } from '../store/etcd/client.js';
import { termGuardedWrite, type LeadershipGuard } from '../store/etcd/guarded-txn.js';
import type { CommandOptions, CommandResult, NodeShell } from './ports.js';

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

  /** Whole actions (the rewind): see NodeShell.runAction. */
  runAction(request: { action: 'rewind'; source: string }, timeoutMs: number): Promise<CommandResult> {
    return this.send(request, null, timeoutMs);
  }

  async close(): Promise<void> {
    // Nothing held: the etcd client belongs to the controller.
  }

  async send(request: CommandRequest, stdin: string | null, timeoutMs: number): Promise<CommandResult> {
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
    await termGuardedWrite(ctx, leadership, `send ${request.action} to the agent of ${this.node}`, [{ kind: 'put', key, value: encodeCommandRecord(record) }]);
    try {
      return shellResultOf(this.node, request.action, await this.#awaitResult(key, request.action, timeoutMs));
    } finally {
      await ctx.client.delete().key(key).exec().catch(() => undefined);
    }
  }

  async #awaitResult(key: string, action: string, timeoutMs: number): Promise<NonNullable<CommandRecord['result']>> {
    const { ctx, pickupMs } = this.channel;
    const pollMs = this.channel.pollMs ?? 50;
    const sentAt = performance.now();
    let startedAt: number | null = null;
    let lastError = '';
    for (;;) {
      try {
        const value = await ctx.client.get(key).string();
        if (value === null) throw new HandyRepError('CONTROL_CHANNEL', `${this.description}: the record of ${action} disappeared before the agent answered`);
        const record = parseCommandRecord(key, value);
        if (record.result !== null) return record.result;
        if (record.started !== null && startedAt === null) startedAt = performance.now();
      } catch (err) {
        if (err instanceof HandyRepError && err.code === 'CONTROL_CHANNEL') throw err;
        lastError = `; last etcd error: ${describeError(err)}`;
      }
      const now = performance.now();
      if (startedAt === null && now - sentAt > pickupMs) {
        throw new HandyRepError('CONTROL_CHANNEL', `${this.description}: the agent did not take ${action} within ${pickupMs} ms (agent not running, or its node cut off from etcd)${lastError}`);
      }
      if (startedAt !== null && now - startedAt > timeoutMs + pickupMs) {
        throw new HandyRepError('CONTROL_CHANNEL', `${this.description}: the agent took ${action} but gave no result within ${timeoutMs + pickupMs} ms (agent died or cut off)${lastError}`);
      }
      await new Promise((resolve) => setTimeout(resolve, pollMs));
    }
  }
}
