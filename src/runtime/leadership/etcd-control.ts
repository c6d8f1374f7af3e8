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
import { fencedByLease, leaseAlive, masterLeaseId, readMasterKey, writeMasterKey } from '../../store/etcd/master-key.js';
import type { AgentsMasterReads } from '../topology/adopt-agents-master.js';
import { masterLeaseStateFrom } from '../../engine/lease-proof.js';
import { withDeadline } from '../../store/etcd/store-error.js';
import { leaseHistoryVerdict } from '../../engine/lease-history-proof.js';
import { readLeaseHistory } from '../../store/etcd/lease-history.js';
import { currentLeaseVerdict } from '../../engine/lease-current-proof.js';
import { readCurrentLeases } from '../../store/etcd/current-leases.js';
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
  /** Masters whose agent was seen holding `master_lease` at this controller's last healthy check of them, with that lease's id. */
  readonly #leaseSeenHeld = new Map<string, string>();
  /** The store revision of the read that last saw each of those leases held (where the history replay starts). */
  readonly #leaseSeenAt = new Map<string, string>();
  /** The last history proof's sentence per master (masterLeaseNote), kept for the decision's reason. */
  readonly #leaseNotes = new Map<string, string>();
  /** Why this controller must not act nor write even while leading (a damaged store state), or null. */
  #heldOff: string | null = null;

  constructor(
    readonly ctx: EtcdContext,
    readonly leadership: EtcdLeadership,
    readonly store: EtcdClusterStore,
    readonly controllerId: string,
    /** How long a guarded command may take (a connect timeout): the lease must outlast it. */
    private readonly commandMs: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    // What was seen under an ended term proves nothing later: a controller that leads again must see
    // the agent hold the lease anew (it may have died meanwhile, leaving its master writable).
    leadership.onLost(() => this.#leaseSeenHeld.clear());
  }

  /**
   * null when this controller may issue an irreversible command now, else why not: it leads and
   * its lease outlasts the command by the safety margin (leader-record.ts leaseTimeFor).
   */
  mayAct(): string | null {
    if (this.#heldOff !== null) return this.#heldOff;
    if (this.leadership.holdsNow(this.commandMs)) return null;
    if (this.leadership.current !== null) {
      return `this controller leads but its lease may end within ${this.leadership.leaseLeftMs()} ms, before a command of up to ${this.commandMs} ms is done (a renewal is late)`;
    }
    const leader = this.#leader?.record;
    // controller_id is a checked name (parseLeaderRecord); the URL is printed only when valid.
    const url = leader?.api_url ? checkLeaderUrl(leader.api_url) : null;
    return leader && leader.controller_id !== this.controllerId
      ? `this controller does not lead (controller ${leader.controller_id} does${url?.ok ? ` at ${url.url.toString()}` : url ? ', its advertised URL is invalid' : ''})`
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

  /** Refuses every command and store write from now on (until restart): the state in etcd needs repair. */
  holdOff(reason: string): void {
    this.#heldOff = reason;
    this.#staleReason = reason;
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
   * replaced in one transaction guarded by the term, its mod revision and the absence of the
   * `master_lease` of every other server of the book (`bookServers`) and of the one it named.
   */
  async recordMaster(name: string, bookServers: readonly string[], syncSet: readonly string[], timeline: number | null, promotedLsn: string | null): Promise<{ ok: boolean; details: string }> {
    const term = this.leadership.current;
    if (!term) return { ok: false, details: 'the master key was not written: this controller does not lead' };
    try {
      const read = await readMasterKey(this.ctx);
      const next: MasterRecord = { name, term: term.term, timeline, promoted_lsn: promotedLsn, sync_set: [...syncSet], since: new Date().toISOString(), written_by: this.controllerId };
      const written = await writeMasterKey(this.ctx, this.leadership, read, next, fencedByLease(read, name, bookServers));
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
    for (const node of [...this.#leaseSeenHeld.keys()]) if (node !== master) this.#leaseSeenHeld.delete(node);
    try {
      const reply = await withDeadline(`read the master lease of ${master}`, this.ctx.deadlineMs, () => this.ctx.client.kv.range({ key: Buffer.from(this.ctx.keys.masterLease(master)) }));
      const id = reply.kvs[0]?.lease ?? null;
      // Lease "0": a key put without a lease (by hand), not an agent's: it proves nothing.
      if (id !== null && id !== '0') {
        this.#leaseSeenHeld.set(master, id);
        // The put that made this version (not the read's revision): the replay then sees the lease it took the key from.
        this.#leaseSeenAt.set(master, reply.kvs[0]?.mod_revision ?? reply.header.revision);
      } else this.#leaseSeenHeld.delete(master);
    } catch {
      // etcd trouble: keep what was known; the judgement reads the lease again anyway.
    }
  }

  /**
   * The failed master's lease, for the failover decision and the fence (failover-decision.ts
   * MasterLeaseState): released only when the lease seen held has ENDED, not merely its key gone
   * (engine/lease-proof.ts).
   */
  async masterLeaseState(master: string): Promise<MasterLeaseState> {
    try {
      const keyLease = await masterLeaseId(this.ctx, master);
      const seenLease = this.#leaseSeenHeld.get(master) ?? null;
      // A key under a lease other than the one seen: does that lease carry other keys (then no agent's master lease)?
      const keyLeaseCarriesOtherKeys = keyLease !== null && keyLease !== '0' && keyLease !== seenLease ? await this.#carriesOtherKeys(keyLease, master) : null;
      // Also under a key put over by hand ('0', or under another application's lease): that key is nobody's, the seen lease may live.
      const seenLeaseAlive = (keyLease === null || keyLease === '0' || keyLeaseCarriesOtherKeys === true) && seenLease !== null ? await leaseAlive(this.ctx, seenLease) : null;
      // Never seen held by this controller (it started leading after the lapse), or the lease seen
      // has ended (it may be stale: a newer one may live): ask etcd's history.
      // A seen lease's history starts where it was seen: every lease the key had since must have ended.
      const history = keyLease === null && (seenLease === null || seenLeaseAlive === false) ? leaseHistoryVerdict(await readLeaseHistory(this.ctx, master, this.ctx.deadlineMs, seenLease === null ? undefined : this.#leaseSeenAt.get(master))) : null;
      // The seen lease ended and compaction took the history: do the current leases prove it? (lease-current-proof.ts)
      const current = history?.historyGone === true && seenLease !== null ? currentLeaseVerdict(await readCurrentLeases(this.ctx, master)) : null;
      const note = [history?.reason, current?.reason].filter((r) => r !== undefined).join('; ');
      if (note !== '') this.#leaseNotes.set(master, note);
      else this.#leaseNotes.delete(master);
      return masterLeaseStateFrom({ keyLease, seenLease, seenLeaseAlive, history, current, keyLeaseCarriesOtherKeys });
    } catch {
      this.#leaseNotes.delete(master);
      return 'unknown';
    }
  }

  /** Whether lease `id` carries keys other than `master_lease/<master>` (null: not read). */
  async #carriesOtherKeys(id: string, master: string): Promise<boolean | null> {
    try {
      const reply = await withDeadline(`read lease ${id}'s keys`, this.ctx.deadlineMs, () => this.ctx.client.leaseClient.leaseTimeToLive({ ID: id, keys: true }));
      const own = this.ctx.keys.masterLease(master);
      return reply.keys.some((k) => Buffer.from(k).toString() !== own);
    } catch {
      return null;
    }
  }

  /** What etcd's history said of `master`'s lease at the last masterLeaseState (for the decision's reason), or null. */
  masterLeaseNote(master: string): string | null {
    return this.#leaseNotes.get(master) ?? null;
  }

  /** On winning leadership: when no `master` key exists, records the verified master (timeline known). */
  async seedMaster(name: string, timeline: number, syncSet: readonly string[], bookServers: readonly string[]): Promise<{ seeded: boolean; details: string }> {
    const read = await readMasterKey(this.ctx);
    if (read.record !== null) return { seeded: false, details: `the master key names ${read.record.name} (term ${read.record.term})` };
    const outcome = await this.recordMaster(name, bookServers, syncSet, timeline, null);
    return { seeded: outcome.ok, details: outcome.details };
  }

  /**
   * What adopting an agents' election's master reads (topology/adopt-agents-master.ts), each read
   * within `deadlineMs` (the etcd deadline unless shorter). A lease is held only with a real lease
   * id (a key put by hand has lease 0: it proves nothing); a lease read that fails is unknown (null).
   * Once adopted, the master's lease counts as seen held while healthy, as at a healthy check: an
   * agent_lease failover of it needs no healthy check first.
   */
  agentsMasterReads(deadlineMs = this.ctx.deadlineMs): AgentsMasterReads {
    const within = Math.min(deadlineMs, this.ctx.deadlineMs);
    return {
      masterRecord: async () => (await readMasterKey(this.ctx, within)).record,
      lease: async (node) => {
        try {
          const id = await masterLeaseId(this.ctx, node, within);
          return id === null ? 'absent' : id === '0' ? 'by_hand' : 'held';
        } catch {
          return 'unknown';
        }
      },
      adopted: (node) => this.noteHealthyMaster(node),
    };
  }
}
