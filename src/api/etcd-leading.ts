/**
 * What a controller does when it wins or loses the etcd leadership, and while it follows
 * (leader-loop.ts runs these). Kept out of HandyRep: it receives what it needs as closures.
 */
import type { HandyRepConfig } from '../config/schema.js';
import type { EventLog } from '../log/event-log.js';
import { describeError } from '../model/errors.js';
import type { FailoverRecord } from '../model/failover-record.js';
import type { EtcdControl } from '../runtime/leadership/etcd-control.js';
import type { LeaderLoopHooks } from '../runtime/leadership/leader-loop.js';
import type { Persister } from '../runtime/persister.js';
import type { ServerBook } from '../runtime/server-book.js';
import { loadStoreState } from '../runtime/state-sync.js';
import type { ControllerHistoryEntry } from '../store/cluster-store.js';
import type { LeadershipLoss } from '../store/etcd/leadership.js';

export interface LeadingDeps {
  etcd: EtcdControl;
  book: ServerBook;
  persister: Persister;
  log: EventLog;
  config: () => HandyRepConfig;
  clock: () => Date;
  /** Resume or roll back an interrupted change found in the journal (same rules as at start). */
  recover: (journal: FailoverRecord) => Promise<string>;
  /**
   * Takes into the book the master an agents' election made while no controller led, when it
   * verifies (runtime/topology/adopt-agents-master.ts); the sentence says what happened.
   */
  adoptAgentsMaster: () => Promise<string>;
  /** The master's timeline when it answers as a writable master, else null. */
  masterTimeline: (master: string) => Promise<number | null>;
  startMonitor: () => void;
  stopMonitor: () => void;
  /** Resolves when no mutating action is running any more. */
  idle: () => Promise<void>;
}

export function leadingHooks(deps: LeadingDeps): LeaderLoopHooks {
  const { etcd, book, persister, log } = deps;
  /** A loss is recorded in controller_history when this controller leads again (a deposed leader cannot write). */
  let unrecorded: ControllerHistoryEntry | null = null;

  /** Bumped on every won term: a follower's read started before it must not be adopted after it. */
  let generation = 0;

  /**
   * Reads the state from etcd and adopts it when `stillValid()` holds once the read is back: a
   * follower's slow read may land after this controller won and ran its recovery. 'nothing' when
   * the store holds no usable state (nothing adopted: a follower's data is then not fresh).
   */
  const adoptStore = async (stillValid: () => boolean = () => true): Promise<'adopted' | 'nothing' | 'raced' | { damaged: string }> => {
    const init = await loadStoreState(deps.config(), etcd.store, etcd.ctx.keys.prefix, deps.clock().toISOString());
    if (!stillValid()) return 'raced';
    if (init.storeDamage !== undefined) return { damaged: init.storeDamage };
    if (init.source.from !== 'store') return 'nothing';
    book.adoptStored(init);
    persister.raiseVersion(init.version);
    etcd.noteRead();
    return 'adopted';
  };

  return {
    async won(term) {
      generation += 1;
      log.warn('LEADERSHIP', `this controller leads (term ${term.term}): re-reading the state, recovering any interrupted change, then monitoring`);
      const adopted = await adoptStore();
      if (typeof adopted === 'object') {
        // Writing back what could be read would replace the real topology in etcd: hold off.
        const why = `the state in etcd is damaged (${adopted.damaged}): not writing it, not monitoring; repair it (handyrep store migrate --overwrite from a good copy), then restart the controllers`;
        etcd.holdOff(why);
        log.error('LEADERSHIP', why, undefined, 'CRITICAL');
        return;
      }
      etcd.noteRead();
      await persister.request();
      if (unrecorded) await etcd.store.recordControllerEvent(unrecorded);
      unrecorded = null;
      await etcd.store.recordControllerEvent({ at: deps.clock().toISOString(), controller_id: etcd.controllerId, event: 'leading', term: term.term, details: 'won the leader key' });
      const journal = await etcd.store.readJournal();
      if (journal) {
        log.error('FAILOVER', `found an interrupted ${journal.kind} (${journal.id}) in the etcd journal: recovering`, undefined, 'CRITICAL');
        log.warn('FAILOVER', `recovery: ${await deps.recover(journal)}`);
      }
      // Before the seed and the monitor: the agents may have elected a master while no controller
      // led; the book must name it before anything judges the old one failed.
      log.info('LEADERSHIP', `agents' master: ${await deps.adoptAgentsMaster().catch((err: unknown) => `not checked: ${describeError(err)}`)}`);
      const master = book.masterName();
      const timeline = master === null ? null : await deps.masterTimeline(master);
      if (master !== null && timeline !== null) {
        const seed = await etcd.seedMaster(master, timeline, book.syncRecord()?.members ?? [], book.names());
        log.info('LEADERSHIP', seed.seeded ? `seeded the master key: ${seed.details}` : `master key kept: ${seed.details}`);
      } else {
        log.warn('LEADERSHIP', `the master key was not seeded: ${master === null ? 'no enabled master' : `${master} does not answer as a writable master`}`);
      }
      if (etcd.leadership.current?.term === term.term) deps.startMonitor();
    },
    lostNow(loss: LeadershipLoss) {
      deps.stopMonitor();
      log.error('LEADERSHIP', `leadership lost (term ${loss.term}): ${loss.reason}; monitoring stopped, a topology change in flight stops at its next step; campaigning again`, undefined, 'CRITICAL');
      unrecorded = { at: deps.clock().toISOString(), controller_id: etcd.controllerId, event: 'resigned', term: loss.term, details: loss.reason };
    },
    async afterLoss() {
      await deps.idle();
    },
    async follow() {
      await etcd.refreshLeader();
      try {
        const started = generation;
        if (etcd.leadership.current === null) {
          const outcome = await adoptStore(() => etcd.leadership.current === null && generation === started);
          if (outcome === 'nothing') etcd.noteStale('the etcd store holds no state yet (nothing adopted)');
          if (typeof outcome === 'object') etcd.noteStale(`the etcd store state is damaged (nothing adopted): ${outcome.damaged}`);
        }
      } catch (err) {
        etcd.noteStale(`etcd cannot be read: ${describeError(err)}`);
      }
    },
  };
}
