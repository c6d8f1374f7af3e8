/**
 * Which status changes are alerted at once. A master that gives the controller no answer is not
 * alerted by the check that saw it: the failover check's judgement follows within the cycle and
 * alerts what it finds (cut off while the replicas see it, failed, or undecided), so one
 * episode raises one alert, not one per cycle. While failover is paused no judgement follows,
 * so the change is alerted as usual.
 */
import type { ServerStatusName } from '../model/status.js';

export function unjudgedMasterFailure(change: { isMaster: boolean; to: ServerStatusName; paused: boolean }): boolean {
  return change.isMaster && change.to === 'unavailable' && !change.paused;
}
