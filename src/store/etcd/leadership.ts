/**
 * Controller leadership in etcd (design §9 rule 2): every controller campaigns for the `leader`
 * key under a lease of `ttl` seconds; the one that creates it leads, and the key's create revision
 * is its term. The leader renews the lease every ttl/3 and watches the key; it stops leading —
 * and tells every `onLost` listener at once — when
 *   - a renewal answers that the lease is gone,
 *   - the key is deleted or re-created (watch),
 *   - no renewal succeeded for ttl minus a margin (the lease may be about to expire in etcd:
 *     stopping before it does means a successor never overlaps with us), or
 *   - a term-guarded write finds the key no longer ours (guarded-txn.ts calls markLost).
 * After a loss the controller may campaign again; it gets a new, larger term.
 */
import type { Deployment } from '../../config/schema.js';
import { HandyRepError } from '../../model/errors.js';
import type { EtcdContext } from './client.js';
import {
  encodeLeaderRecord,
  judgeLeaderKey,
  keepaliveSaysExpired,
  leadershipDeadlineMs,
  leaseTimeFor,
  parseLeaderRecord,
  renewIntervalMs,
  type LeaderKeyValue,
  type LeaderView,
  type Term,
} from './leader-record.js';
import { withDeadline } from './store-error.js';

export interface LeadershipLoss {
  /** The term that ended. */
  readonly term: string;
  readonly reason: string;
  readonly atMs: number;
}

export interface CampaignIdentity {
  /** This controller's id (controller-identity.ts); a valid name. */
  readonly controllerId: string;
  /** Where its API answers; null = none. */
  readonly apiUrl: string | null;
  /** Announced in the leader key (leader-record.ts); absent = not said. */
  readonly deployment?: Deployment;
}

type Listener = (loss: LeadershipLoss) => void;

export class EtcdLeadership {
  #term: Term | null = null;
  #lastRenewalSentMs = 0;
  #renewTimer: NodeJS.Timeout | undefined;
  #deadlineTimer: NodeJS.Timeout | undefined;
  #stopWatch: (() => Promise<void>) | undefined;
  readonly #listeners = new Set<Listener>();
  /** The member renewals go to; the next one after a failure. */
  #renewalMember = 0;

  constructor(
    private readonly ctx: EtcdContext,
    private readonly identity: CampaignIdentity,
    /** A monotonic clock (ms): lease arithmetic must not jump with the wall clock. */
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** The term while this controller leads, else null. */
  get current(): Term | null {
    return this.#term;
  }

  /**
   * Whether this controller may issue an irreversible command right now: it holds a term AND the
   * last successful renewal is recent enough that etcd cannot have expired the lease before
   * `minRemainingMs` more have passed (the command's own duration: a connect timeout). Checked
   * synchronously against the monotonic clock, not left to the deadline timer: a process frozen
   * (SIGSTOP, long GC pause) past the deadline resumes with its timers not yet run, and must not
   * act on the first line it executes. A deadline found passed here ends the term at once; too
   * little time left only refuses this command (the next renewal restores it).
   */
  holdsNow(minRemainingMs = 0): boolean {
    const term = this.#term;
    if (!term) return false;
    const time = leaseTimeFor(this.#lastRenewalSentMs, this.ctx.ttlSeconds, this.now(), minRemainingMs);
    if (time === 'ok') return true;
    if (time === 'expired') this.markLost(`the leader lease was last renewed ${Math.round(this.now() - this.#lastRenewalSentMs)} ms ago (ttl ${this.ctx.ttlSeconds} s): it may have expired in etcd`);
    return false;
  }

  /** Milliseconds left before this controller must stop acting (0 when it does not lead). */
  leaseLeftMs(): number {
    return this.#term ? Math.max(0, Math.round(leadershipDeadlineMs(this.#lastRenewalSentMs, this.ctx.ttlSeconds) - this.now())) : 0;
  }

  /** Calls `listener` once per lost term, as soon as the loss is known. Returns an unsubscribe. */
  onLost(listener: Listener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Resolves with our term once we lead. While another controller leads, waits for its key to go
   * (watch, and a re-check every ttl/4 at most); an unreachable etcd is retried. Rejects only when
   * `signal` aborts or etcd answers with something unusable.
   */
  async campaign(signal?: AbortSignal): Promise<Term> {
    const retryMs = Math.min(1000, (this.ctx.ttlSeconds * 1000) / 4);
    for (;;) {
      signal?.throwIfAborted();
      if (this.#term) return this.#term;
      try {
        const leader = await this.currentLeader();
        if (leader === null) {
          // A stop that came during the read takes no new term (other controllers would see one come and go).
          signal?.throwIfAborted();
          const outcome = await this.tryAcquire();
          if (outcome.won) return outcome.term;
        } else {
          await this.#waitForChange(leader.readRevision, retryMs, signal);
        }
      } catch (err) {
        if (!(err instanceof HandyRepError) || err.code !== 'STORE_UNREACHABLE') throw err;
        await sleep(retryMs, signal);
      }
    }
  }

  /** One attempt to take the leader key: our new term, or who holds it (null: it went meanwhile). */
  async tryAcquire(): Promise<{ won: true; term: Term } | { won: false; leader: LeaderView | null }> {
    if (this.#term) return { won: true, term: this.#term };
    const { client, keys, ttlSeconds, deadlineMs } = this.ctx;
    const key = Buffer.from(keys.leader);
    const sentMs = this.now();
    const grant = await withDeadline('grant the leader lease', deadlineMs, () => client.leaseClient.leaseGrant({ TTL: ttlSeconds }));
    const deployment = this.identity.deployment;
    const record = { controller_id: this.identity.controllerId, api_url: this.identity.apiUrl, since: new Date().toISOString(), ...(deployment === undefined ? {} : { deployment }) };
    const value = encodeLeaderRecord(record);
    let reply;
    try {
      reply = await withDeadline('take the leader key', deadlineMs, () =>
        client.kv.txn({
          compare: [{ key, target: 'Create', result: 'Equal', create_revision: 0 }],
          success: [{ request_put: { key, value: Buffer.from(value), lease: grant.ID } }, { request_range: { key } }],
          failure: [{ request_range: { key } }],
        }),
      );
    } catch (err) {
      void this.#revoke(grant.ID);
      throw err;
    }
    const kv = reply.responses[reply.responses.length - 1]?.response_range?.kvs[0];
    if (reply.succeeded && kv) {
      const term: Term = { term: kv.create_revision, leaseId: grant.ID, record, value };
      this.#hold(term, sentMs);
      return { won: true, term };
    }
    void this.#revoke(grant.ID);
    return { won: false, leader: kv ? this.#view(kv, reply.header.revision) : null };
  }

  /** Who leads now (a plain read; null when nobody does). */
  async currentLeader(): Promise<LeaderView | null> {
    const { client, keys, deadlineMs } = this.ctx;
    const reply = await withDeadline('read the leader key', deadlineMs, () => client.kv.range({ key: Buffer.from(keys.leader) }));
    const kv = reply.kvs[0];
    return kv ? this.#view(kv, reply.header.revision) : null;
  }

  /**
   * Calls `listener` with the new leader on every change of the leader key (null when it goes).
   * Returns a function that stops watching.
   */
  watchLeader(listener: (leader: LeaderView | null) => void, onError: (err: Error) => void = () => undefined): () => Promise<void> {
    const watcher = this.ctx.client.watch().key(this.ctx.keys.leader).watcher();
    watcher.on('put', (kv) => {
      try {
        listener(this.#view(kv, kv.mod_revision));
      } catch (err) {
        onError(err as Error);
      }
    });
    watcher.on('delete', () => listener(null));
    watcher.on('error', onError);
    return () => watcher.cancel().catch(() => undefined);
  }

  /**
   * The term is over (called by guarded writes whose compare failed, and by the checks here).
   * Stops renewing, revokes the lease (best effort) and tells the listeners. Idempotent.
   */
  markLost(reason: string): void {
    const term = this.#term;
    if (!term) return;
    this.#stopHolding();
    void this.#revoke(term.leaseId);
    // atMs is a wall-clock timestamp for reports; the lease arithmetic uses the monotonic clock.
    const loss: LeadershipLoss = { term: term.term, reason, atMs: Date.now() };
    for (const listener of [...this.#listeners]) {
      try {
        listener(loss);
      } catch {
        // A listener's failure must not keep the others from hearing about the loss.
      }
    }
  }

  /**
   * Gives the leadership up (shutdown): stops acting at once (no more renewals; mayAct refuses),
   * runs `beforeDelete` (wait for a command already past its check: the lease still covers it,
   * so no successor can start meanwhile), then deletes the key only if it is still ours and
   * revokes the lease, so a successor need not wait for the ttl.
   */
  async resign(beforeDelete: () => Promise<void> = async () => undefined): Promise<void> {
    const term = this.#term;
    if (!term) return;
    this.#stopHolding();
    await beforeDelete().catch(() => undefined);
    const { client, keys, deadlineMs } = this.ctx;
    const key = Buffer.from(keys.leader);
    try {
      await withDeadline('resign the leadership', deadlineMs, () =>
        client.kv.txn({
          compare: [
            { key, target: 'Create', result: 'Equal', create_revision: term.term },
            { key, target: 'Value', result: 'Equal', value: Buffer.from(term.value) },
          ],
          success: [{ request_delete_range: { key } }],
          failure: [],
        }),
      );
    } finally {
      await this.#revoke(term.leaseId);
    }
  }

  /** Stops everything without touching etcd (the lease runs out by itself). */
  release(): void {
    this.#stopHolding();
  }

  #hold(term: Term, grantSentMs: number): void {
    this.#term = term;
    this.#lastRenewalSentMs = grantSentMs;
    this.#armDeadline();
    this.#scheduleRenewal();
    this.#stopWatch = this.#watchOwnKey(term);
  }

  #stopHolding(): void {
    this.#term = null;
    clearTimeout(this.#renewTimer);
    clearTimeout(this.#deadlineTimer);
    void this.#stopWatch?.();
    this.#stopWatch = undefined;
  }

  #armDeadline(): void {
    clearTimeout(this.#deadlineTimer);
    const waitMs = Math.max(0, leadershipDeadlineMs(this.#lastRenewalSentMs, this.ctx.ttlSeconds) - this.now());
    const lastMs = this.#lastRenewalSentMs;
    this.#deadlineTimer = setTimeout(
      () => this.markLost(`no renewal of the leader lease succeeded for ${this.now() - lastMs} ms of its ${this.ctx.ttlSeconds} s (etcd unreachable or without quorum)`),
      waitMs,
    );
  }

  /** Next renewal after a third of the TTL; after a failed one at once (another member may answer). */
  #scheduleRenewal(afterFailure = false): void {
    const intervalMs = renewIntervalMs(this.ctx.ttlSeconds);
    // Short enough for two more tries before the deadline when a member is frozen.
    const attemptMs = Math.max(200, Math.floor(intervalMs / 2));
    this.#renewTimer = setTimeout(() => void this.#renew(attemptMs), afterFailure ? 20 : intervalMs);
  }

  async #renew(timeoutMs: number): Promise<void> {
    const term = this.#term;
    if (!term) return;
    const sentMs = this.now();
    try {
      const ttl = await withDeadline('renew the leader lease', timeoutMs, () => this.#keepaliveOnce(term.leaseId, timeoutMs));
      if (this.#term !== term) return;
      if (keepaliveSaysExpired(ttl)) {
        this.markLost('etcd says the leader lease expired');
        return;
      }
      this.#lastRenewalSentMs = Math.max(this.#lastRenewalSentMs, sentMs);
      this.#armDeadline();
    } catch {
      // Not yet a loss: the deadline timer decides when too many renewals failed. Try the next member.
      this.#renewalMember = (this.#renewalMember + 1) % this.ctx.memberCount;
      if (this.#term === term) this.#scheduleRenewal(true);
      return;
    }
    if (this.#term === term) this.#scheduleRenewal();
  }

  /** One keep-alive on its own stream to the current renewal member, cancelled by the call deadline if it does not answer. */
  async #keepaliveOnce(leaseId: string, timeoutMs: number): Promise<string> {
    const client = this.ctx.memberClient(this.#renewalMember);
    const stream = await client.leaseClient.leaseKeepAlive({ deadline: Date.now() + timeoutMs });
    return new Promise((resolve, reject) => {
      stream.on('data', (reply) => {
        resolve(reply.TTL);
        stream.end();
      });
      stream.on('error', reject);
      stream.write({ ID: leaseId });
    });
  }

  #watchOwnKey(term: Term): () => Promise<void> {
    const watcher = this.ctx.client.watch().key(this.ctx.keys.leader).startRevision(term.term).watcher();
    const judge = (kv: LeaderKeyValue | null): void => {
      if (this.#term !== term) return;
      const judgement = judgeLeaderKey(kv, term);
      if (!judgement.held) this.markLost(judgement.reason);
    };
    watcher.on('put', (kv) => judge(kv));
    watcher.on('delete', () => judge(null));
    // A broken watch is no loss by itself: renewals and guarded writes still decide.
    watcher.on('error', () => undefined);
    return () => watcher.cancel().catch(() => undefined);
  }

  async #waitForChange(sinceRevision: string, maxWaitMs: number, signal: AbortSignal | undefined): Promise<void> {
    const watcher = this.ctx.client.watch().key(this.ctx.keys.leader).startRevision(String(BigInt(sinceRevision) + 1n)).watcher();
    await new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, maxWaitMs);
      watcher.on('delete', done);
      watcher.on('error', done);
      if (signal?.aborted) done();
      else signal?.addEventListener('abort', done, { once: true });
    });
    void watcher.cancel().catch(() => undefined);
  }

  async #revoke(leaseId: string): Promise<void> {
    await withDeadline('revoke the leader lease', this.ctx.deadlineMs, () => this.ctx.client.leaseClient.leaseRevoke({ ID: leaseId })).catch(() => undefined);
  }

  #view(kv: LeaderKeyValue & { mod_revision?: string }, readRevision: string): LeaderView {
    return {
      record: parseLeaderRecord(this.ctx.keys.leader, kv.value),
      term: kv.create_revision,
      leaseId: kv.lease,
      readRevision,
      readAtMs: Date.now(),
    };
  }
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    if (signal?.aborted) done();
    else signal?.addEventListener('abort', done, { once: true });
  });
}
