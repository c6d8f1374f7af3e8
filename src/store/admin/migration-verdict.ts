/**
 * Whether `handyrep store migrate` may copy the state from one store to the other, decided from
 * what both stores hold. A migration copies everything or nothing: it never runs beside a
 * controller (that holds the state and would go on writing the old store), never over an
 * interrupted topology change (its journal must be recovered by a daemon first: copying it would
 * let two stores each believe they own the recovery), and never over another state unless asked.
 */
import type { StoredStateRead } from '../cluster-store.js';
import type { FailoverRecord } from '../../model/failover-record.js';

export type StoreKind = 'local' | 'etcd';

/** What the two stores hold, as read under the migration's own lock / leadership. */
export interface MigrationFacts {
  from: StoreKind;
  to: StoreKind;
  source: StoredStateRead;
  sourceJournal: FailoverRecord | null;
  target: StoredStateRead;
  targetJournal: FailoverRecord | null;
  /** --overwrite: replace a state the target already holds. */
  overwrite: boolean;
}

export type MigrationVerdict = { ok: true; replacing: boolean } | { ok: false; reason: string };

export function migrationVerdict(facts: MigrationFacts): MigrationVerdict {
  const { from, to, source, target } = facts;
  if (from === to) return { ok: false, reason: `the state is already in the ${to} store (handyrep.store: ${to}); nothing to migrate` };
  if (source.kind === 'missing') return { ok: false, reason: `the ${from} store holds no state: nothing to migrate (start a daemon on it once, or define the servers in the configuration)` };
  if (source.kind === 'invalid') return { ok: false, reason: `the ${from} store's state cannot be read: ${source.reason}` };
  if (facts.sourceJournal !== null) return { ok: false, reason: journalReason(from, facts.sourceJournal) };
  if (facts.targetJournal !== null) return { ok: false, reason: journalReason(to, facts.targetJournal) };
  if (target.kind === 'invalid' && !facts.overwrite) return { ok: false, reason: `the ${to} store already holds a state that cannot be read (${target.reason}); pass --overwrite to replace it` };
  if (target.kind === 'ok' && !facts.overwrite) {
    const servers = Object.keys(target.state.servers).length;
    return { ok: false, reason: `the ${to} store already holds a state (version ${target.state.version}, ${servers} servers, written ${new Date(target.state.updated_ms).toISOString()}); pass --overwrite to replace it` };
  }
  return { ok: true, replacing: target.kind !== 'missing' };
}

function journalReason(store: StoreKind, journal: FailoverRecord): string {
  return `the ${store} store records an interrupted ${journal.kind} (${journal.id}, started ${journal.started}): start a daemon on the ${store} store to recover it first`;
}
