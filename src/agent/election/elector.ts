/**
 * One agent's part in an election without a controller (design §9 rule 6), once per round:
 * snapshot → judge (judge.ts, pure) → when best: grant the master lease, take `master` and
 * `master_lease/<node>` in one transaction (election-store.ts) → promote the local PostgreSQL →
 * confirm the key with the promoted timeline and WAL position, and a failover history entry.
 *
 * A failed promotion gives the key back so another candidate can try: this node's PostgreSQL is
 * first made not writable (stopped, so its member record says "stopped" and it is no longer a
 * candidate: it rejoins at its next start through role discovery), then `master` is put back as
 * it was and the lease key deleted, in one transaction.
 *
 * The effects on the local node come through ElectionHands, so the same code runs in the agent
 * and in the race test against real etcd.
 */
import { resolveServer } from '../../config/merge.js';
import type { HandyRepConfig } from '../../config/schema.js';
import { describeError } from '../../model/errors.js';
import { lsnToBigInt, parseLsn } from '../../model/lsn.js';
import type { FailoverRecord, StepRecord } from '../../model/failover-record.js';
import type { EtcdContext } from '../../store/etcd/client.js';
import type { MasterRecord } from '../../store/etcd/master-record.js';
import { confirmMaster, readElectionSnapshot, revertMaster, takeMaster, type StoreSnapshot } from './election-store.js';
import { judgeElection, type ElectionRefusalCode, type ElectionVerdict, type LeaseEnd, type ServerElectionSettings } from './judge.js';
import { readLeaseEnd } from './lease-end.js';
import { electionSettingsFrom, type StoredSettings } from './stored-settings.js';
import { skipElectionSnapshot, type ElectionWatch, type QuietRefusal, type WatchMark } from './election-watch.js';

/** Beyond ttl / 3 + a round: how late the master's record rewrite may be heard before rounds read again. */
const HEARD_SLACK_MS = 500;

export interface ElectionHands {
  /** Grants a new master lease (the agent holds none now); its id. */
  grantLease(): Promise<string>;
  /** Revokes it (best effort). */
  releaseLease(): Promise<void>;
  /** The take succeeded: arm the watchdog before anything can make PostgreSQL writable. */
  tookMaster(): void;
  /** Under synchronous_mode, before the promotion: make every commit wait for a standby (synchronous_standby_names '*'). */
  requireSyncStandby(): Promise<{ ok: boolean; details: string }>;
  /** Promotes the local PostgreSQL and waits until it is out of recovery. */
  promote(): Promise<{ ok: boolean; details: string }>;
  /** Timeline and current WAL position of the promoted PostgreSQL. */
  promotedFacts(): Promise<{ timeline: number | null; lsn: string | null }>;
  /** After a failed promotion: PostgreSQL stopped for sure and the member record published as such. */
  standDown(why: string): Promise<void>;
}

export type ElectionOutcome =
  | { readonly kind: 'refused'; readonly code: ElectionRefusalCode; readonly sentence: string }
  | { readonly kind: 'lost'; readonly sentence: string }
  | { readonly kind: 'won'; readonly sentence: string; readonly historyId: string }
  | { readonly kind: 'promotion_failed'; readonly sentence: string; readonly historyId: string };

export interface ElectorSettings {
  readonly node: string;
  readonly deployment: HandyRepConfig['handyrep']['deployment'];
  readonly ttlMs: number;
  readonly loopWaitMs: number;
  readonly servers: Readonly<Record<string, ServerElectionSettings>>;
  readonly maxReplayLagMb: number;
  readonly synchronousMode: 'off' | 'on' | 'strict';
  readonly callMs: number;
}

export function electorSettings(config: HandyRepConfig, node: string, callMs: number): ElectorSettings {
  const servers = Object.fromEntries(
    Object.entries(config.servers)
      .map(([name, entry]) => [name, resolveServer(config.server_defaults, entry)] as const)
      .filter(([, r]) => r.enabled)
      .map(([name, r]) => [name, { failoverPriority: r.failover_priority, nofailover: r.nofailover, lagLimitMb: r.lag_limit }]),
  );
  return {
    node,
    deployment: config.handyrep.deployment,
    ttlMs: config.etcd.ttl * 1000,
    loopWaitMs: config.agent.loop_wait * 1000,
    servers,
    maxReplayLagMb: config.failover.max_replay_lag,
    synchronousMode: config.failover.synchronous_mode,
    callMs,
  };
}

export class Elector {
  /** Monotonic ms since which `leader` has been seen absent; null while present. */
  #leaderAbsentSince: number | null = null;
  /** Monotonic ms of the last snapshot (attempts stop while PostgreSQL is not a running replica). */
  #lastObservedMs: number | null = null;
  #lastRefusal = '';
  /** `<name>/<term>` of the master records whose lease this agent saw held. */
  readonly #leasesSeen = new Set<string>();
  /** `<name>/<term>` → the lease id the master's key was last seen under (its end is what fences it, lease-end.ts). */
  readonly #leaseIdsSeen = new Map<string, { id: string; revision: string }>();
  /** `<name>/<term>` → the furthest wal_position seen in that master's member record. */
  readonly #masterPositions = new Map<string, string>();
  /** `<name>/<term>` → the highest timeline that master published as master. */
  readonly #masterTimelines = new Map<string, number>();
  /** `<name>/<term>` → the revision of the first snapshot without that master's lease (positions read after it are final). */
  readonly #leaseGoneRevisions = new Map<string, string>();
  /** The last snapshot's refusal that the election watch lets the next rounds repeat (election-watch.ts). */
  #quiet: QuietRefusal | null = null;
  /** Snapshots read (for tests and the log). */
  snapshotsRead = 0;

  constructor(
    private readonly ctx: EtcdContext,
    private readonly settings: ElectorSettings,
    private readonly hands: ElectionHands,
    private readonly now: () => number,
    private readonly log: (line: string) => void,
    /** Without one (tests), every attempt reads a snapshot. */
    private readonly watch: ElectionWatch | null = null,
    /** How old a quiet refusal may get before a snapshot is read anyway. */
    private readonly backstopMs = 0,
  ) {}

  /**
   * One attempt; refusals are logged when they change (a reason code for each). `master`: the
   * round's view of the `master` key (name and term), for repeating a quiet refusal without a
   * snapshot while the election watch heard nothing (skipElectionSnapshot).
   */
  async attempt(master: { readonly name: string; readonly term: string } | null = null): Promise<ElectionOutcome> {
    const s = this.settings;
    // Started at the first attempt (a running replica): until it is connected, every attempt reads.
    if (master !== null) this.watch?.start(master.name);
    const mark = this.watch?.mark() ?? { live: false, epoch: 0, master: null, masterHeardAtMs: Number.NEGATIVE_INFINITY };
    const heardWithinMs = s.ttlMs / 3 + s.loopWaitMs + HEARD_SLACK_MS;
    if (skipElectionSnapshot({ last: this.#quiet, mark, master, nowMs: this.now(), backstopMs: this.backstopMs, heardWithinMs }) && this.#quiet !== null) {
      // The knowledge is current (the watch is live): as if observed now.
      this.#lastObservedMs = this.now();
      return { kind: 'refused', code: this.#quiet.code, sentence: this.#quiet.sentence };
    }
    this.#quiet = null;
    this.snapshotsRead++;
    let snapshot = await readElectionSnapshot(this.ctx, s.callMs);
    const nowMs = this.#observe(snapshot);
    let verdict = this.#judge(snapshot, s.servers, nowMs, null);
    // Past every cheaper refusal with the old master's key absent: is its lease proven ended? (one etcd call, or a history replay)
    let leaseEnd: LeaseEnd | null = null;
    const recorded = snapshot.master.record;
    const judgedModRevision = snapshot.master.modRevision;
    if (verdict.kind === 'refuse' && (verdict.code === 'lease_end_unproven' || verdict.code === 'lease_never_seen') && recorded !== null) {
      leaseEnd = await readLeaseEnd(this.ctx, recorded.name, this.#leaseIdsSeen.get(`${recorded.name}/${recorded.term}`), s.callMs);
      verdict = this.#judge(snapshot, s.servers, nowMs, leaseEnd);
    }
    // Past the checks that need no settings: judge again on a snapshot with the cluster's stored
    // server definitions (read only now, as they are the bulk of it), the one the take compares.
    let source: StoredSettings['source'] = 'file';
    if (verdict.kind === 'take' || !SETTINGS_FREE.has(verdict.code)) {
      snapshot = await readElectionSnapshot(this.ctx, s.callMs, true);
      const settings = electionSettingsFrom(snapshot.storedServers ?? [], s.servers);
      source = settings.source;
      // The lease's end was proven for the record of the first snapshot only.
      verdict = this.#judge(snapshot, settings.servers, nowMs, snapshot.master.modRevision === judgedModRevision ? leaseEnd : null);
    }
    if (verdict.kind === 'refuse') {
      this.#quiet = quietRefusal(verdict, snapshot, mark, nowMs);
      const line = `${verdict.code}: ${verdict.sentence}${SETTINGS_FREE.has(verdict.code) ? '' : ` (server settings from ${source === 'etcd' ? "the stored servers/*" : "this agent's file"})`}`;
      // Quiet while nothing is to elect; every other refusal is logged once per change.
      if (line !== this.#lastRefusal && !QUIET.has(verdict.code)) this.log(`agent ${s.node}: election: not trying (${line})`);
      this.#lastRefusal = line;
      return { kind: 'refused', code: verdict.code, sentence: verdict.sentence };
    }
    this.#lastRefusal = '';
    this.log(`agent ${s.node}: election: ${verdict.sentence}`);
    const started = new Date();
    const leaseId = await this.hands.grantLease();
    const record: MasterRecord = {
      name: s.node,
      term: snapshot.revision,
      timeline: null,
      promoted_lsn: null,
      sync_set: [],
      since: started.toISOString(),
      written_by: `agent:${s.node}`,
    };
    // An error here means neither the take nor its read-back answered: the lease is kept; unused, it
    // is released by the next round (PostgreSQL still read-only), or expires.
    const taken = await takeMaster(this.ctx, { node: s.node, snapshot, judged: verdict.judged, leaderMustBeAbsent: s.deployment === 'ha', ...(snapshot.cluster ? { clusterModRevision: snapshot.cluster.modRevision } : {}), leaseId, record }, s.callMs);
    if (!taken.taken) {
      await this.hands.releaseLease();
      const sentence = `lost the race for the master key: ${taken.why}`;
      this.log(`agent ${s.node}: election: ${sentence}`);
      return { kind: 'lost', sentence };
    }
    const steps: StepRecord[] = [step('take the master key', s.node, started, 'ok', `revision ${taken.revision}; order ${verdict.order.join(' > ')}; master_lease of ${verdict.from} expired; server settings from ${source === 'etcd' ? 'the stored servers/*' : "this agent's file"}`)];
    const reason = `agents' election: the master lease of ${verdict.from} expired`;
    const historyId = `e${taken.revision}-${s.node}`.slice(0, 63);
    this.hands.tookMaster();
    if (verdict.synchronous) {
      // The recorded set is the old master's; until a controller records one for this master, no
      // commit may be acknowledged by it alone.
      const syncStarted = new Date();
      const sync = await this.hands.requireSyncStandby().catch((err: unknown) => ({ ok: false, details: describeError(err) }));
      steps.push(step("synchronous_standby_names '*' (commits wait for a standby)", s.node, syncStarted, sync.ok ? 'ok' : 'failed', sync.details));
      if (!sync.ok) return this.#giveBack(snapshot, taken.revision, verdict.from, started, steps, reason, historyId, `synchronous_standby_names could not be set: ${sync.details}`);
    }
    const promoteStarted = new Date();
    const promoted = await this.hands.promote().catch((err: unknown) => ({ ok: false, details: describeError(err) }));
    steps.push(step('promote', s.node, promoteStarted, promoted.ok ? 'ok' : 'failed', promoted.details));
    if (!promoted.ok) return this.#giveBack(snapshot, taken.revision, verdict.from, started, steps, reason, historyId, promoted.details);
    const facts = await this.hands.promotedFacts().catch(() => ({ timeline: null, lsn: null }));
    const confirmed: MasterRecord = { ...record, timeline: facts.timeline, promoted_lsn: facts.lsn };
    const confirmStarted = new Date();
    const history = failoverRecord(historyId, reason, verdict.from, s.node, started, [...steps, step('confirm the master key', s.node, confirmStarted, 'ok', `timeline ${facts.timeline ?? '?'}, promoted at ${facts.lsn ?? '?'}`)], 'SUCCESS');
    const ok = await confirmMaster(this.ctx, s.node, taken.revision, confirmed, { key: this.ctx.keys.history(historyId), value: JSON.stringify(history) }, s.callMs).catch(() => false);
    // Not confirmed: the next rounds try again (confirmAgain) while the key is still ours and PostgreSQL writable.
    const sentence = `${s.node} promoted (from ${verdict.from})${ok ? '' : '; the confirmation write failed: tried again next round'}`;
    this.log(`agent ${s.node}: election: ${sentence}`);
    return { kind: 'won', sentence, historyId };
  }

  /** What this agent remembers across snapshots (leases seen held, the master's positions, leader absence); the monotonic now. */
  #observe(snapshot: StoreSnapshot): number {
    const s = this.settings;
    const recorded = snapshot.master.record;
    const seenKey = recorded === null ? '' : `${recorded.name}/${recorded.term}`;
    if (recorded !== null && snapshot.leasesHeld.includes(recorded.name)) {
      this.#leasesSeen.add(seenKey);
      // From the put of the version seen (not the snapshot's revision): the replay then sees what that put took the key from.
      this.#leaseIdsSeen.set(seenKey, { id: snapshot.leaseIds?.[recorded.name] ?? '0', revision: snapshot.leaseModRevisions?.[recorded.name] ?? snapshot.revision });
      this.#leaseGoneRevisions.delete(seenKey);
    } else if (recorded !== null && !this.#leaseGoneRevisions.has(seenKey)) this.#leaseGoneRevisions.set(seenKey, snapshot.revision);
    const position = recorded === null ? null : (snapshot.members.find((m) => m.name === recorded.name)?.record?.wal_position ?? null);
    if (position !== null && lsnAfter(position, this.#masterPositions.get(seenKey) ?? null)) this.#masterPositions.set(seenKey, position);
    const own = recorded === null ? null : (snapshot.members.find((m) => m.name === recorded.name)?.record ?? null);
    if (own?.role === 'master' && typeof own.timeline === 'number' && own.timeline > (this.#masterTimelines.get(seenKey) ?? 0)) this.#masterTimelines.set(seenKey, own.timeline);
    const nowMs = this.now();
    // A gap longer than the ttl: a controller may have led and gone meanwhile; time the absence anew.
    if (this.#lastObservedMs !== null && nowMs - this.#lastObservedMs > s.ttlMs) this.#leaderAbsentSince = null;
    this.#lastObservedMs = nowMs;
    if (snapshot.leaderPresent) this.#leaderAbsentSince = null;
    else this.#leaderAbsentSince ??= nowMs;
    return nowMs;
  }

  #judge(snapshot: StoreSnapshot, servers: Readonly<Record<string, ServerElectionSettings>>, nowMs: number, leaseEnd: LeaseEnd | null): ElectionVerdict {
    const s = this.settings;
    const recorded = snapshot.master.record;
    const seenKey = recorded === null ? '' : `${recorded.name}/${recorded.term}`;
    return judgeElection({
      node: s.node,
      deployment: s.deployment,
      revision: snapshot.revision,
      master: snapshot.master,
      leasesHeld: snapshot.leasesHeld,
      leaseSeen: this.#leasesSeen.has(seenKey),
      members: snapshot.members,
      leaderPresent: snapshot.leaderPresent,
      leaderAbsentForMs: this.#leaderAbsentSince === null ? 0 : nowMs - this.#leaderAbsentSince,
      ttlMs: s.ttlMs,
      loopWaitMs: s.loopWaitMs,
      servers,
      maxReplayLagMb: s.maxReplayLagMb,
      synchronousMode: s.synchronousMode,
      ...(snapshot.cluster === undefined ? {} : { syncRecord: snapshot.cluster.sync }),
      oldMasterPosition: this.#masterPositions.get(seenKey) ?? null,
      oldMasterTimeline: this.#masterTimelines.get(seenKey) ?? null,
      leaseGoneRevision: this.#leaseGoneRevisions.get(seenKey) ?? snapshot.revision,
      leaseEnd,
    });
  }

  /**
   * A take of this node whose confirmation did not land (the record names us, written by us, no
   * timeline): write the promoted position now, with a history entry. Called by the rounds while
   * PostgreSQL runs writable; true when confirmed.
   */
  async confirmAgain(): Promise<boolean> {
    const s = this.settings;
    const snapshot = await readElectionSnapshot(this.ctx, s.callMs);
    const record = snapshot.master.record;
    if (record === null || record.name !== s.node || record.written_by !== `agent:${s.node}` || record.timeline !== null) return false;
    const facts = await this.hands.promotedFacts();
    const historyId = `e${snapshot.master.modRevision}-${s.node}`.slice(0, 63);
    const started = new Date(record.since);
    const history = failoverRecord(historyId, "agents' election", null, s.node, Number.isNaN(started.getTime()) ? new Date() : started, [step('confirm the master key (again)', s.node, new Date(), 'ok', `timeline ${facts.timeline ?? '?'}, at ${facts.lsn ?? '?'}`)], 'SUCCESS');
    const ok = await confirmMaster(this.ctx, s.node, snapshot.master.modRevision, { ...record, timeline: facts.timeline, promoted_lsn: facts.lsn }, { key: this.ctx.keys.history(historyId), value: JSON.stringify(history) }, s.callMs);
    if (ok) this.log(`agent ${s.node}: election: master key confirmed (timeline ${facts.timeline ?? '?'}) on a later round`);
    return ok;
  }

  async #giveBack(snapshot: StoreSnapshot, takenRevision: string, from: string, started: Date, steps: StepRecord[], reason: string, historyId: string, details: string): Promise<ElectionOutcome> {
    const s = this.settings;
    const standStarted = new Date();
    // Not writable BEFORE the key and lease go: nobody may be promoted while this one might take writes.
    await this.hands.standDown(`its promotion failed: ${details}`);
    steps.push(step('stop this node (not a candidate until its next start)', s.node, standStarted, 'ok', ''));
    const history = failoverRecord(historyId, reason, from, null, started, steps, 'FAIL', `promotion of ${s.node} failed (${details}); master key given back so the next candidate can try`);
    const given = await revertMaster(this.ctx, s.node, takenRevision, snapshot.master.raw, { key: this.ctx.keys.history(historyId), value: JSON.stringify(history) }, s.callMs).catch(() => false);
    await this.hands.releaseLease();
    const sentence = `promotion failed (${details}): PostgreSQL stopped, ${given ? 'master key given back' : 'the master key changed meanwhile, left as it is'}, master lease released`;
    this.log(`agent ${s.node}: election: ${sentence}`);
    return { kind: 'promotion_failed', sentence, historyId };
  }
}

function lsnAfter(a: string, b: string | null): boolean {
  const pa = parseLsn(a);
  const pb = parseLsn(b);
  return pa !== null && (pb === null || lsnToBigInt(pa) > lsnToBigInt(pb));
}

/** Refusals decided before any server setting counts: no need to read the stored definitions. */
const SETTINGS_FREE: ReadonlySet<ElectionRefusalCode> = new Set([
  'deployment_single',
  'controller_leads',
  'no_master_record',
  'master_is_us',
  'master_lease_held',
  'lease_never_seen',
  'lease_key_deleted',
  'lease_end_unproven',
  'another_writable',
]);

/**
 * The refusal a quiet election watch may repeat: the recorded master's lease held, or a controller
 * holding `leader` (deployment ha). Only a change of a `master_lease/*` key or `leader` (or of the
 * `master` key, which the caller compares) can lift either.
 */
function quietRefusal(verdict: ElectionVerdict, snapshot: StoreSnapshot, mark: WatchMark, atMs: number): QuietRefusal | null {
  const recorded = snapshot.master.record;
  if (verdict.kind !== 'refuse' || recorded === null) return null;
  if (verdict.code === 'master_lease_held' || (verdict.code === 'controller_leads' && snapshot.leaderPresent)) {
    return { code: verdict.code, sentence: verdict.sentence, master: { name: recorded.name, term: recorded.term }, mark, atMs };
  }
  return null;
}

/** Refusals that are the normal state of a healthy cluster: not logged. */
const QUIET: ReadonlySet<ElectionRefusalCode> = new Set(['master_lease_held', 'master_is_us', 'controller_leads', 'deployment_single', 'no_master_record']);

function step(name: string, server: string | null, started: Date, outcome: StepRecord['outcome'], details: string): StepRecord {
  return { name, server, started: started.toISOString(), finished: new Date().toISOString(), outcome, details };
}

function failoverRecord(id: string, reason: string, from: string | null, to: string | null, started: Date, steps: StepRecord[], outcome: 'SUCCESS' | 'FAIL', details = ''): FailoverRecord {
  const finished = new Date();
  return {
    id,
    kind: 'failover',
    reason,
    started: started.toISOString(),
    finished: finished.toISOString(),
    duration_ms: finished.getTime() - started.getTime(),
    from,
    to,
    outcome,
    details: details || `${to} promoted by the agents' election`,
    steps,
    plan: [`take the master key (${steps[0]?.server ?? '?'})`, 'promote', 'confirm the master key'],
    fence: 'confirmed',
  };
}
