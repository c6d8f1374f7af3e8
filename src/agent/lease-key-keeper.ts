/**
 * The master's agent puts `master_lease/<node>` back when it finds it missing, or put over under
 * no lease or another one, while it still holds the lease (an operator's `etcdctl del` or `put`,
 * a range delete, a bug). The key is what the others
 * look at: a controller's `master` write and an agents' election are guarded by its absence, and a
 * missing key under a live lease would let either make a second master (both now also ask whether
 * the lease ended, engine/lease-proof.ts and election/lease-end.ts; the key coming back restores
 * the first guard too).
 *
 * Found missing or put over: an etcd watch on the key says when it was deleted or put (no read per round: idle cost);
 * until the watch has connected, and after every (re)connection or failure, the next round reads
 * the key once. The put is ONE transaction that holds only while the `master` key is at the mod
 * revision the round judged on (it names this node: a round plans to hold the lease only then) and
 * the lease key is still as read (absent, or at the overwritten version's mod revision), and etcd
 * refuses it when the lease itself has ended.
 */
import type { Watcher } from 'etcd3';
import { describeError } from '../model/errors.js';
import type { EtcdContext } from '../store/etcd/client.js';
import { withDeadline } from '../store/etcd/store-error.js';
import { masterLeaseValue } from './boot-lease.js';

/**
 * What to do about the key, from one read of it (pure): missing → put back; under another lease
 * (put over by hand without a lease, '0', or under some other lease; or an earlier agent process's
 * lease the boot did not replace) → put back over it: the key must name the lease this agent
 * renews, or the others' proofs look at a lease that is not the fence.
 */
export function leaseKeyAction(keyLease: string | null, ours: string): 'none' | 'put_back' | 'overwritten' {
  if (keyLease === null) return 'put_back';
  return keyLease === ours ? 'none' : 'overwritten';
}

export class LeaseKeyKeeper {
  #mustCheck = true;
  #running: Promise<void> | null = null;
  #lastSentence = '';
  #watcher: Watcher | null = null;
  #closed = false;
  /** A live lease this keeper already put the key back over once (a second agent process for this node fights back). */
  #foughtLease: string | null = null;

  constructor(
    private readonly ctx: EtcdContext,
    private readonly node: string,
    private readonly log: (line: string) => void,
    /**
     * The master lease held now: a check started under one lease must not put the key back under
     * it once the agent fenced (it forgets the lease, which lives on in etcd until its ttl) and
     * took a new one.
     */
    private readonly currentLease?: () => string | null,
  ) {}

  /** Whether the next round must look at the key (tests). */
  get mustCheck(): boolean {
    return this.#mustCheck;
  }

  /** Makes the next round look at the key, as a watch event does (tests). */
  requestCheck(): void {
    this.#mustCheck = true;
  }

  start(): void {
    if (this.#watcher !== null || this.#closed) return;
    const watcher = this.ctx.client.watch().key(this.ctx.keys.masterLease(this.node)).watcher();
    const mine = (): boolean => this.#watcher === watcher;
    const recheck = (): void => {
      if (mine()) this.#mustCheck = true;
    };
    watcher.on('connected', recheck);
    watcher.on('disconnected', recheck);
    watcher.on('delete', recheck);
    // A put by anyone else (over the key, by hand) too; this agent's own put-back costs one read.
    watcher.on('put', recheck);
    // etcd3 does not re-create a watcher etcd cancelled: a new one, and a read meanwhile.
    const restart = (): void => {
      if (!mine()) return;
      this.#mustCheck = true;
      this.#stopWatcher();
      setTimeout(() => this.start(), 1000).unref();
    };
    watcher.on('error', restart);
    watcher.on('end', restart);
    this.#watcher = watcher;
  }

  close(): void {
    this.#closed = true;
    this.#stopWatcher();
  }

  /**
   * Called by a round that renewed the master lease `leaseId`: starts keep() when a check is due,
   * off the round (its calls must not delay the next renewal: a slow etcd would otherwise stretch
   * the renewal interval past the fresh window and demote a healthy master); one at a time.
   * Outcomes other than "nothing to do" are logged when they change.
   */
  keepInBackground(leaseId: string, masterModRevision: string, callMs: number): void {
    if (this.#running !== null || !this.#mustCheck) return;
    this.#running = this.keep(leaseId, masterModRevision, callMs)
      .then((sentence) => {
        const line = sentence.replace(/^; /, '');
        if (line !== '' && line !== this.#lastSentence && !line.includes('put back at revision')) this.log(line);
        this.#lastSentence = line;
      })
      .finally(() => {
        this.#running = null;
      });
  }

  /**
   * For a master lease `leaseId` just renewed, judged on the `master` key at `masterModRevision`:
   * when a check is due, reads the key and puts it back if missing. Returns what to add to a
   * sentence ('' when nothing was done).
   */
  async keep(leaseId: string, masterModRevision: string, callMs: number): Promise<string> {
    if (!this.#mustCheck) return '';
    // Cleared before the read: a delete reported while this runs raises it again.
    this.#mustCheck = false;
    const again = (sentence: string): string => {
      this.#mustCheck = true;
      return sentence;
    };
    const leaseKey = Buffer.from(this.ctx.keys.masterLease(this.node));
    try {
      const read = await withDeadline('read the master lease key', callMs, () => this.ctx.client.kv.range({ key: leaseKey }));
      const found = read.kvs[0];
      const action = leaseKeyAction(found?.lease ?? null, leaseId);
      if (action === 'none') return '';
      if (this.currentLease !== undefined && this.currentLease() !== leaseId) return again(`; master_lease/${this.node} not put back: this agent no longer holds lease ${leaseId}`);
      // Over another live lease a second time: it is put back over ours each time (a second agent
      // process for this node?): left, not fought every round; reported once (no read until the next put).
      if (found !== undefined && found.lease !== '0' && found.lease === this.#foughtLease) {
        return `; master_lease/${this.node} is under lease ${found.lease} again after it was put back under this agent's ${leaseId}: left (a second agent for this node?)`;
      }
      // Over a key put by someone else: only that version of it (its mod revision), never a newer one.
      const keyCompare = found === undefined
        ? { key: leaseKey, target: 'Create' as const, result: 'Equal' as const, create_revision: 0 }
        : { key: leaseKey, target: 'Mod' as const, result: 'Equal' as const, mod_revision: found.mod_revision };
      const reply = await withDeadline('put the master lease key back', callMs, () =>
        this.ctx.client.kv.txn({
          compare: [{ key: Buffer.from(this.ctx.keys.master), target: 'Mod', result: 'Equal', mod_revision: masterModRevision }, keyCompare],
          success: [{ request_put: { key: leaseKey, value: Buffer.from(masterLeaseValue(this.node)), lease: leaseId } }],
          failure: [],
        }),
      );
      const was = found === undefined ? 'missing' : `under ${found.lease === '0' ? 'no lease (put by hand)' : `lease ${found.lease}`}`;
      if (!reply.succeeded) return again(`; master_lease/${this.node} is ${was} but was not put back: the master key (or the lease key) changed since this round read it`);
      this.#foughtLease = found === undefined || found.lease === '0' ? this.#foughtLease : found.lease;
      const sentence = `master_lease/${this.node} was ${was} while this agent holds lease ${leaseId}: put back at revision ${reply.header.revision}`;
      this.log(sentence);
      return `; ${sentence}`;
    } catch (err) {
      return again(`; master_lease/${this.node} not checked or put back: ${describeError(err)}`);
    }
  }

  #stopWatcher(): void {
    const watcher = this.#watcher;
    this.#watcher = null;
    void watcher?.cancel().catch(() => undefined);
  }
}
