/**
 * What a controller under `master_check_method: etcd_lease` needs of etcd while it runs
 * (design §9): whether it may act right now, the `master` key writes, and who leads when it does
 * not (for followers' replies). The campaign itself is EtcdLeadership's; this is the glue the
 * runtime sees.
 */
import { describeError, HandyRepError } from '../../model/errors.js';
import type { EtcdContext } from '../../store/etcd/client.js';
import type { EtcdClusterStore } from '../../store/etcd/etcd-cluster-store.js';
import type { LeaderView } from '../../store/etcd/leader-record.js';
import type { EtcdLeadership } from '../../store/etcd/leadership.js';
import type { MasterLeaseState } from '../../engine/failover-decision.js';
import { fencedByLease, masterLeaseHeld, readMasterKey, writeMasterKey } from '../../store/etcd/master-key.js';
import type { MasterRecord } from '../../store/etcd/master-record.js';
import { checkLeaderUrl } from './leader-url.js';

/** Who leads, as this controller knows it (get_status, /health). */
export interface LeadershipReport {
  method: 'etcd_lease';
  leading: boolean;
  /** The leading controller's id, or null when nobody leads (or etcd cannot be read). */
  leader: string | null;
  /** Its advertised API URL, when valid; null otherwise. */
  leader_url: string | null;
  term: string | null;
  /** Milliseconds since this controller last read etcd successfully (a follower's data is that old); null before the first read. */
  data_age_ms: number | null;
  /** Why the data may be stale (etcd unreachable), or null. */
  stale_reason: string | null;
}

export class EtcdControl {
  #leader: LeaderView | null = null;
  #readAtMs: number | null = null;
  #staleReason: string | null = null;
  /** Masters whose agent was seen holding `master_lease` at this controller's last healthy check of them. */
  readonly #leaseSeenHeld = new Set<string>();

  constructor(
    readonly ctx: EtcdContext,
    readonly leadership: EtcdLeadership,
    readonly store: EtcdClusterStore,
    readonly controllerId: string,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** null when this controller may issue an irreversible command now, else why not. */
  mayAct(): string | null {
    if (this.leadership.holdsNow()) return null;
    const leader = this.#leader?.record;
    return leader && leader.controller_id !== this.controllerId
      ? `this controller does not lead (controller ${leader.controller_id} does${leader.api_url ? ` at ${leader.api_url}` : ''})`
      : 'this controller does not lead (etcd_lease: no leadership held)';
  }

  /** Reads who leads now (followers call it on their refresh); never throws. */
  async refreshLeader(): Promise<void> {
    try {
      this.#leader = await this.leadership.currentLeader();
      this.#readAtMs = this.now();
      this.#staleReason = null;
    } catch (err) {
      this.#staleReason = `etcd cannot be read: ${describeError(err)}`;
    }
  }

  /** Notes a successful read of the store (the data's age restarts). */
  noteRead(): void {
    this.#readAtMs = this.now();
    this.#staleReason = null;
  }

  noteStale(reason: string): void {
    this.#staleReason = reason;
  }

  report(): LeadershipReport {
    const leading = this.leadership.current !== null;
    const record = leading ? null : (this.#leader?.record ?? null);
    const url = record?.api_url ? checkLeaderUrl(record.api_url) : null;
    return {
      method: 'etcd_lease',
      leading,
      leader: leading ? this.controllerId : (record?.controller_id ?? null),
      leader_url: url?.ok ? url.url.toString() : null,
      term: leading ? (this.leadership.current?.term ?? null) : (this.#leader?.term ?? null),
      data_age_ms: leading ? 0 : this.#readAtMs === null ? null : Math.round(this.now() - this.#readAtMs),
      stale_reason: this.#staleReason,
    };
  }

  /**
   * Records `name` as master before its promotion (master-key.ts): the `master` key is read, then
   * replaced in one transaction guarded by the term, its mod revision and the absence of the old
   * master's `master_lease`.
   */
  async recordMaster(name: string, knownMaster: string | null, syncSet: readonly string[], timeline: number | null, promotedLsn: string | null): Promise<{ ok: boolean; details: string }> {
    const term = this.leadership.current;
    if (!term) return { ok: false, details: 'the master key was not written: this controller does not lead' };
    try {
      const read = await readMasterKey(this.ctx);
      const next: MasterRecord = { name, term: term.term, timeline, promoted_lsn: promotedLsn, sync_set: [...syncSet], since: new Date().toISOString(), written_by: this.controllerId };
      const written = await writeMasterKey(this.ctx, this.leadership, read, next, fencedByLease(read, name, knownMaster));
      return { ok: true, details: `master key names ${name} (revision ${written.revision}, term ${term.term})` };
    } catch (err) {
      return { ok: false, details: `the master key was not written: ${err instanceof HandyRepError ? err.message : describeError(err)}` };
    }
  }

  /**
   * failover.unreachable_master agent_lease, at each healthy check of `master`: whether its agent
   * holds the master lease now. Only a lease seen held while the master was healthy makes its later
   * absence a proof (no agent there, or one that stopped holding it, proves nothing). Never throws.
   */
  async noteHealthyMaster(master: string): Promise<void> {
    for (const node of this.#leaseSeenHeld) if (node !== master) this.#leaseSeenHeld.delete(node);
    try {
      if (await masterLeaseHeld(this.ctx, master)) this.#leaseSeenHeld.add(master);
      else this.#leaseSeenHeld.delete(master);
    } catch {
      // etcd trouble: keep what was known; the judgement reads the lease again anyway.
    }
  }

  /** The failed master's lease, for the failover decision and the fence (failover-decision.ts MasterLeaseState). */
  async masterLeaseState(master: string): Promise<MasterLeaseState> {
    try {
      if (await masterLeaseHeld(this.ctx, master)) return 'held';
    } catch {
      return 'unknown';
    }
    return this.#leaseSeenHeld.has(master) ? 'released' : 'never_held';
  }

  /** On winning leadership: when no `master` key exists, records the verified master (timeline known). */
  async seedMaster(name: string, timeline: number, syncSet: readonly string[]): Promise<{ seeded: boolean; details: string }> {
    const read = await readMasterKey(this.ctx);
    if (read.record !== null) return { seeded: false, details: `the master key names ${read.record.name} (term ${read.record.term})` };
    const outcome = await this.recordMaster(name, null, syncSet, timeline, null);
    return { seeded: outcome.ok, details: outcome.details };
  }
}
