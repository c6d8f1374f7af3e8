/**
 * Maintenance mode and planned stops. They travel with the cluster status, so servers.save and
 * the handyrep table keep them: a controller restarted while paused stays paused.
 */

/** Why the master is down on purpose: HandyRep stopped or is restarting it on request. */
export interface PlannedDown {
  server: string;
  action: 'shutdown' | 'restart';
  since: string;
}

export interface MaintenanceFields {
  /** Automatic failover, restart and fencing are paused; checks and statuses go on. */
  paused?: boolean;
  /** Who paused, when and why (as given to pause). */
  paused_by?: string;
  paused_at?: string;
  paused_reason?: string;
  planned_down?: PlannedDown;
}

/** The maintenance fields of a saved or live cluster status, with `paused` always set. */
export function maintenanceOf(fields: Readonly<MaintenanceFields>): MaintenanceFields {
  const out: MaintenanceFields = { paused: fields.paused === true };
  if (out.paused) {
    if (typeof fields.paused_by === 'string') out.paused_by = fields.paused_by;
    if (typeof fields.paused_at === 'string') out.paused_at = fields.paused_at;
    if (typeof fields.paused_reason === 'string') out.paused_reason = fields.paused_reason;
  }
  const planned = fields.planned_down;
  if (planned && typeof planned.server === 'string' && typeof planned.since === 'string' && (planned.action === 'shutdown' || planned.action === 'restart')) {
    out.planned_down = { server: planned.server, action: planned.action, since: planned.since };
  }
  return out;
}
