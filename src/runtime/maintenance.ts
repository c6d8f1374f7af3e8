/**
 * Maintenance mode (pause / resume) and planned stops of the master, on the server book. The
 * state persists with the cluster status; the rules are in engine/maintenance.ts.
 */
import { failoverHold, pauseNote } from '../engine/maintenance.js';
import type { EventLog } from '../log/event-log.js';
import type { MaintenanceFields } from '../model/maintenance.js';
import { failure, success, type Rd } from '../model/rd.js';
import type { ServerBook } from './server-book.js';

export type MaintenanceRd = Rd<{ maintenance: MaintenanceFields }>;

/** Pause automatic failover, restart and fencing; checks go on. Pausing again updates who/why. */
export function pauseFailover(book: ServerBook, log: EventLog, by: string | null, reason: string | null): MaintenanceRd {
  book.setPaused({ by, reason });
  const state = book.maintenanceState;
  log.warn('MAINTENANCE', `failover paused${pauseNote(state)}: no automatic failover, restart or fencing until resume`);
  return success(`failover paused${pauseNote(state)}; checks and statuses go on, nothing fails over or is fenced automatically until resume`, { maintenance: state });
}

/** Resume automatic failover. */
export function resumeFailover(book: ServerBook, log: EventLog): MaintenanceRd {
  const was = book.maintenanceState;
  if (was.paused !== true) return failure('failover is not paused', { maintenance: was });
  book.setPaused(null);
  log.warn('MAINTENANCE', `failover resumed (was paused${pauseNote(was)})`);
  return success(`failover resumed (was paused${pauseNote(was)}); the next check acts on what it finds`, { maintenance: book.maintenanceState });
}

/** Why the failover check holds back now (see failoverHold), or null. */
export function currentHold(book: ServerBook): string | null {
  return failoverHold(book.maintenanceState, book.masterName());
}

/**
 * Run an operator's shutdown or restart of `server`; when it is the master, mark it down on
 * purpose first, so the failover check does not take the stop for a failure. The mark ends when
 * the server answers a check again (or is started); a shutdown that did not stop it clears it.
 */
export async function plannedStop(book: ServerBook, server: string, action: 'shutdown' | 'restart', run: () => Promise<Rd>): Promise<Rd> {
  if (server !== book.masterName()) return run();
  book.setPlannedDown(server, action);
  const rd = await run();
  if (action === 'shutdown' && rd.result !== 'SUCCESS') book.clearPlannedDown(server);
  return rd;
}

/** The failover check's answer while it holds back: the checks' outcome and why nothing acts (if still so). */
export function heldCheckRd(rd: Rd<{ failover_ok: boolean }>, cluster: string, hold: string | null): Rd<{ failover_ok: boolean }> {
  const details = `cluster ${cluster}: ${rd.details}${hold === null ? '' : `; ${hold}`}`;
  return rd.result === 'SUCCESS' ? success(details, { failover_ok: rd.failover_ok }) : failure(details, { failover_ok: rd.failover_ok });
}
