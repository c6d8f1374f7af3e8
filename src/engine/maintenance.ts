/**
 * When the failover check must not act (pure): failover is paused (maintenance), or the master
 * is down because HandyRep stopped or is restarting it on request. Checks and statuses go on;
 * only the automatic decisions (restart, failover, fencing) wait.
 */
import type { MaintenanceFields } from '../model/maintenance.js';

/** Why the failover check holds back now, or null when it may act. */
export function failoverHold(m: Readonly<MaintenanceFields>, master: string | null): string | null {
  if (m.paused === true) return `paused${pauseNote(m)}: not failing over`;
  const planned = m.planned_down;
  if (planned && planned.server === master) {
    const what = planned.action === 'shutdown' ? 'shut down' : 'restarted';
    return `master ${planned.server} was ${what} through HandyRep at ${planned.since} (intentionally stopped): not failing over`;
  }
  return null;
}

/** " by alice since <ts> (reason)", from what pause was given. */
export function pauseNote(m: Readonly<MaintenanceFields>): string {
  const by = m.paused_by ? ` by ${m.paused_by}` : '';
  const since = m.paused_at ? ` since ${m.paused_at}` : '';
  const why = m.paused_reason ? ` (${m.paused_reason})` : '';
  return `${by}${since}${why}`;
}
