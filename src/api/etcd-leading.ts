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

  const adoptStore = async (): Promise<void> => {
    const init = await loadStoreState(deps.config(), etcd.store, etcd.ctx.keys.prefix, deps.clock().toISOString());
    if (init.source.from === 'store') {
      book.adoptStored(init);
      persister.raiseVersion(init.version);
    }
    etcd.noteRead();
  };

  return {
    async won(term) {
      log.warn('LEADERSHIP', `this controller leads (term ${term.term}): re-reading the state, recovering any interrupted change, then monitoring`);
      await adoptStore();
      await persister.request();
      if (unrecorded) await etcd.store.recordControllerEvent(unrecorded);
      unrecorded = null;
      await etcd.store.recordControllerEvent({ at: deps.clock().toISOString(), controller_id: etcd.controllerId, event: 'leading', term: term.term, details: 'won the leader key' });
      const journal = await etcd.store.readJournal();
      if (journal) {
        log.error('FAILOVER', `found an interrupted ${journal.kind} (${journal.id}) in the etcd journal: recovering`, undefined, 'CRITICAL');
        log.warn('FAILOVER', `recovery: ${await deps.recover(journal)}`);
      }
      const master = book.masterName();
      const timeline = master === null ? null : await deps.masterTimeline(master);
      if (master !== null && timeline !== null) {
        const seed = await etcd.seedMaster(master, timeline, book.syncRecord()?.members ?? []);
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
        if (etcd.leadership.current === null) await adoptStore();
      } catch (err) {
        etcd.noteStale(`etcd cannot be read: ${describeError(err)}`);
      }
    },
  };
}
