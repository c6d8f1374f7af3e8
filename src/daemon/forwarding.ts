/**
 * Forwarding a mutating call from a follower to the leading controller (etcd_lease), so the CLI
 * and scripts work against any controller. The caller's credentials travel with the call, so it
 * is forwarded only to a leader URL that passed the leader URL check (http/https, valid host, no
 * user or password) AND is https — or plain http when the operator allowed it
 * (`etcd.forward_insecure`). Never forwarded twice (a call that reaches another follower is
 * answered 503 there), never for a dashboard session (its cookie is this daemon's only).
 */
import type { LeadershipReport } from '../runtime/leadership/etcd-control.js';
import { checkLeaderUrl } from '../runtime/leadership/leader-url.js';

/** Set on a forwarded call: the receiving daemon does not forward it again. */
export const FORWARDED_HEADER = 'x-handyrep-forwarded-by';

export type ForwardDecision = { forward: true; target: URL } | { forward: false; reason: string };

export interface ForwardFacts {
  report: LeadershipReport;
  forwardInsecure: boolean;
  /** The call already came forwarded from another controller. */
  alreadyForwarded: boolean;
  /** The caller authenticated with an Authorization header (not a dashboard session). */
  hasAuthorization: boolean;
  functionName: string;
}

export function forwardDecision(facts: ForwardFacts): ForwardDecision {
  const { report } = facts;
  if (report.leading) return { forward: false, reason: 'this controller leads' };
  if (report.leader === null) return { forward: false, reason: 'no controller leads now (etcd without quorum, or a takeover under way): try again in a few seconds' };
  const where = report.leader_url ?? '(no usable URL advertised)';
  if (facts.alreadyForwarded) return { forward: false, reason: `this call was forwarded here by another controller, but controller ${report.leader} at ${where} leads` };
  if (report.leader_url === null) return { forward: false, reason: `controller ${report.leader} leads but advertises no usable API URL (daemon.advertised_url)` };
  const check = checkLeaderUrl(report.leader_url);
  if (!check.ok) return { forward: false, reason: `the leader's URL ${report.leader_url} is not usable: ${check.reason}` };
  if (!facts.hasAuthorization) return { forward: false, reason: `controller ${report.leader} leads at ${where}: call it there (a dashboard session is not forwarded)` };
  if (check.url.protocol !== 'https:' && !facts.forwardInsecure) {
    return { forward: false, reason: `controller ${report.leader} leads at ${where}: call it there (calls are forwarded with your credentials only over https, or with etcd.forward_insecure: true)` };
  }
  return { forward: true, target: new URL(facts.functionName, check.url.toString().endsWith('/') ? check.url : `${check.url.toString()}/`) };
}
