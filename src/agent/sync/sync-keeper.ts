/**
 * The master's agent keeping synchronous_standby_names and the recorded synchronous set itself
 * (deployment agents, synchronous_mode on/strict: no controller does it there). Each round of the
 * lease holder: read etcd (keeper-store.ts) and its PostgreSQL's pg_stat_replication, decide
 * (keeper-decide.ts), then record / ALTER SYSTEM in the order decided, stopping at the first write
 * that does not land. The narrowing's catch-up target is kept across rounds here, so a round
 * never waits for a standby (the lease renewals run in the same rounds).
 *
 * A pass runs beside the round, never inside it (kick): the round that renews the master lease
 * starts a pass and goes on, so nothing the keeper waits for (etcd, a hung local PostgreSQL: each
 * statement is bounded by keeper-session.ts anyway) can delay the next renewal. One pass at a time;
 * a round that finds one still running starts none.
 */
import type { SyncPolicy } from '../../engine/sync-set.js';
import { describeError } from '../../model/errors.js';
import type { SqlSession } from '../../nodes/ports.js';
import { readMasterReplication, setStandbyNames } from '../../runtime/sync/master-replication.js';
import type { EtcdContext } from '../../store/etcd/client.js';
import type { ServerElectionSettings } from '../election/judge.js';
import { electionSettingsFrom } from '../election/stored-settings.js';
import { decideKeeper, type KeeperReplica, type PendingNarrow } from './keeper-decide.js';
import { keeperGate, mayWrite, type KeeperLease } from './keeper-gate.js';
import { endEarlierKeepers, readKeeperSettleState } from './keeper-pg-settle.js';
import { readKeeperView, writeKeeperRecord, type KeeperView } from './keeper-store.js';

export interface KeeperHands {
  /** The agent's master lease as it stands now (keeper-gate.ts). */
  lease(): KeeperLease;
  /** A session to its PostgreSQL (the master), every statement bounded (keeper-session.ts). */
  sql(): Promise<SqlSession>;
  /** Monotonic ms. */
  now(): number;
  /** Ends what sql() opened (the agent stops). */
  close?(): void;
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
  /** The master lease the kept progress (pending, ownerSince) was built under; null: nothing kept. */
  #ownerLease: string | null = null;
  #lastNote = '';
  #running: Promise<void> | null = null;

  constructor(
    private readonly ctx: EtcdContext,
    private readonly settings: KeeperSettings,
    private readonly hands: KeeperHands,
    private readonly log: (line: string) => void,
  ) {}

  /**
   * Starts a pass beside the round unless one still runs; its outcome is logged when there is one.
   * Returns at once: the round (and the lease renewal of the next) never waits for it.
   */
  kick(): void {
    if (this.#running !== null) return;
    this.#running = this.step().then((line) => {
      if (line !== '') this.log(`agent ${this.settings.node}: ${line.replace(/^; /, '')}`);
    }).finally(() => {
      this.#running = null;
    });
  }

  /** For a clean stop: waits for a running pass (each of its calls is bounded), then closes its session. */
  async stop(): Promise<void> {
    await this.#running;
    this.hands.close?.();
  }

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
    // Fresh for at least two more etcd calls (the read and a record).
    const gate = keeperGate(this.hands.lease(), 2 * callMs, this.#ownerLease);
    if (gate.kind === 'not_owner') return this.#notOwner();
    // Still this lease's mastership: a narrowing's catch-up and the time it began are kept.
    // Said once while it lasts (review s8 N5), in words that do not change with the ms left.
    if (gate.kind === 'skip') return this.#note(`passes skipped: the master lease is fresh for less than the ${2 * callMs} ms a pass needs (what was pending is kept)`, true);
    if (gate.reset) this.#notOwner();
    const leaseId = gate.leaseId;
    if (this.#offSettled) return '';
    let view = await readKeeperView(this.ctx, node, callMs);
    // Not (or no longer) the lease holder of the recorded master: whatever was pending is not ours.
    if (view.master.record?.name !== node || view.leaseOfKey !== leaseId) return this.#notOwner();
    this.#ownerSinceMs ??= this.hands.now();
    this.#ownerLease = leaseId;
    if (view.leader.keepsSync) return this.#note('a controller that keeps the synchronous set holds leader (its deployment is not agents): this agent does not keep it', true);
    const session = await this.hands.sql();
    const settle = await readKeeperSettleState(session);
    if (settle.earlier.length > 0) {
      // A dropped session's backend may still finish its statement (review s8 M1, S1): the file is
      // not final and nothing is written until it is gone. Asked to end; what was pending is kept.
      await endEarlierKeepers(session, settle.earlier);
      return this.#note(`an earlier keeper session's backend (pid ${settle.earlier.join(', ')}) is still alive on the master: asked to end, nothing written until it is gone`, true);
    }
    const seen = await readMasterReplication(session);
    const plan = decideKeeper({ node, policy, record: view.cluster.sync, seen, inFile: settle.inFile, replicas: replicasOf(node, view, this.settings.fileServers), pending: this.#pending, newMaster: this.hands.now() - this.#ownerSinceMs < this.settings.newMasterMs });
    this.#pending = plan.pending;
    this.#offSettled = policy.mode === 'off' && plan.steps.length === 0;
    const done: string[] = [];
    for (const step of plan.steps) {
      // The lease may have gone stale while this pass ran: no write (record or ALTER SYSTEM) without it.
      if (!mayWrite(this.hands.lease(), leaseId, callMs)) return this.#note(`${done.join('; ')}${done.length > 0 ? '; ' : ''}master lease no longer fresh: synchronous set not ${step.kind === 'apply' ? 'named' : 'recorded'}`);
      if (step.kind === 'apply') {
        // Three statements, each bounded by callMs, after a check for one: only the etcd record
        // needs the lease (a CAS under it); a stale pass's ALTER lands on its own master only (review s8 N2).
        await setStandbyNames(session, step.value);
        done.push(`synchronous_standby_names = '${step.value}'`);
        continue;
      }
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
    this.#ownerLease = null;
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
