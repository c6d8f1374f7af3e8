/**
 * The master's agent keeping synchronous_standby_names and the recorded synchronous set itself
 * (deployment agents, synchronous_mode on/strict: no controller does it there). Each round of the
 * lease holder: read etcd (keeper-store.ts) and its PostgreSQL's pg_stat_replication, decide
 * (keeper-decide.ts), then record / ALTER SYSTEM in the order decided, stopping at the first write
 * that does not land. The narrowing's catch-up target is kept across rounds here, so a round
 * never waits for a standby (the lease renewals run in the same rounds).
 */
import type { SyncPolicy } from '../../engine/sync-set.js';
import { describeError } from '../../model/errors.js';
import type { SqlSession } from '../../nodes/ports.js';
import { readMasterReplication, setStandbyNames } from '../../runtime/sync/master-replication.js';
import type { EtcdContext } from '../../store/etcd/client.js';
import type { ServerElectionSettings } from '../election/judge.js';
import { electionSettingsFrom } from '../election/stored-settings.js';
import { decideKeeper, type KeeperReplica, type PendingNarrow } from './keeper-decide.js';
import { readKeeperView, writeKeeperRecord, type KeeperView } from './keeper-store.js';

export interface KeeperHands {
  /** The agent's master lease id while it is held and fresh; null otherwise (then nothing is done). */
  leaseId(): string | null;
  /** The agent's session to its PostgreSQL (the master). */
  sql(): Promise<SqlSession>;
  /** Monotonic ms. */
  now(): number;
}

export interface KeeperSettings {
  readonly node: string;
  readonly policy: SyncPolicy;
  /** The election settings from the agent's file (used when no `servers/*` is stored). */
  readonly fileServers: Readonly<Record<string, ServerElectionSettings>>;
  readonly callMs: number;
  /** How long a master counts as new (ttl + loop_wait): `on` keeps its value while no replica streams yet. */
  readonly newMasterMs: number;
}

export class SyncKeeper {
  #pending: PendingNarrow | null = null;
  /** Monotonic ms since which this agent keeps the set of its own master; null while it does not. */
  #ownerSinceMs: number | null = null;
  /** synchronous_mode off and nothing left to clear: no more reads until this agent's mastership changes (idle cost). */
  #offSettled = false;
  #lastNote = '';

  constructor(
    private readonly ctx: EtcdContext,
    private readonly settings: KeeperSettings,
    private readonly hands: KeeperHands,
    private readonly log: (line: string) => void,
  ) {}

  /** One pass; returns what to add to the round's sentence ('' when nothing changed). Never throws. */
  async step(): Promise<string> {
    try {
      return await this.#step();
    } catch (err) {
      return this.#note(`synchronous set not kept this round: ${describeError(err)}`);
    }
  }

  async #step(): Promise<string> {
    const { node, policy, callMs } = this.settings;
    const leaseId = this.hands.leaseId();
    if (leaseId === null) return this.#notOwner();
    if (this.#offSettled) return '';
    let view = await readKeeperView(this.ctx, node, callMs);
    // Not (or no longer) the lease holder of the recorded master: whatever was pending is not ours.
    if (view.master.record?.name !== node || view.leaseOfKey !== leaseId) return this.#notOwner();
    this.#ownerSinceMs ??= this.hands.now();
    if (view.leaderPresent) return this.#note('a controller holds leader: it keeps the synchronous set, this agent does not', true);
    const session = await this.hands.sql();
    const seen = await readMasterReplication(session);
    const plan = decideKeeper({ node, policy, record: view.cluster.sync, seen, replicas: replicasOf(node, view, this.settings.fileServers), pending: this.#pending, newMaster: this.hands.now() - this.#ownerSinceMs < this.settings.newMasterMs });
    this.#pending = plan.pending;
    this.#offSettled = policy.mode === 'off' && plan.steps.length === 0;
    const done: string[] = [];
    for (const step of plan.steps) {
      if (step.kind === 'apply') {
        await setStandbyNames(session, step.value);
        done.push(`synchronous_standby_names = '${step.value}'`);
        continue;
      }
      // The lease may have gone stale while this round ran: no record without it.
      if (this.hands.leaseId() !== leaseId) return this.#note(`${done.join('; ')}${done.length > 0 ? '; ' : ''}master lease no longer fresh: synchronous set not recorded`);
      const written = await writeKeeperRecord(this.ctx, node, leaseId, view, step.set, step.reason, Date.now(), callMs);
      if (written === null) return this.#note(`${done.join('; ')}${done.length > 0 ? '; ' : ''}synchronous set not recorded: the master key, this node's lease key or the cluster key changed (read again next round)`);
      view = { ...view, cluster: { ...view.cluster, modRevision: written.revision, head: written.head } };
      done.push(`recorded [${step.set.members.join(', ')}] quorum ${step.set.quorum}`);
    }
    if (done.length === 0) return plan.sentence === '' ? '' : this.#note(plan.sentence, true);
    this.#lastNote = '';
    return `; synchronous set: ${done.join('; ')} (${plan.sentence})`;
  }

  /** Not (or no longer) the lease holder of the recorded master: what was pending or timed is not ours. */
  #notOwner(): string {
    this.#pending = null;
    this.#ownerSinceMs = null;
    this.#offSettled = false;
    return '';
  }

  /** A waiting or failing state: said once while it lasts (quiet = not in the round's sentence either). */
  #note(line: string, quiet = false): string {
    if (line === this.#lastNote) return '';
    this.#lastNote = line;
    if (quiet) {
      this.log(`agent ${this.settings.node}: synchronous set: ${line}`);
      return '';
    }
    return `; ${line}`;
  }
}

/** Every other server the cluster knows of: stored or file settings, or a member record. */
function replicasOf(node: string, view: KeeperView, fileServers: Readonly<Record<string, ServerElectionSettings>>): KeeperReplica[] {
  const settings = electionSettingsFrom(view.storedServers, fileServers).servers;
  const names = new Set([...Object.keys(settings), ...view.members.map((m) => m.name)]);
  names.delete(node);
  return [...names].sort().map((name) => ({
    name,
    settings: Object.hasOwn(settings, name) ? (settings[name] ?? null) : null,
    member: view.members.find((m) => m.name === name)?.record ?? null,
  }));
}
