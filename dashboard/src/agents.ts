/**
 * The node agents' member records (get_agents), for deployments with etcd only: the page asks
 * every few seconds while it shows them. They live in etcd, not in the controller's state, so no
 * state event announces a change (an agent's record ages, or goes with its lease, silently).
 */
import { useEffect, useState } from 'preact/hooks';
import { call } from './api';
import type { AgentEntry, AgentsReport } from './types';

export const AGENTS_EVERY_MS = 3000;

/** The last answer and, when the last call failed, why; null when the deployment has no etcd. */
export interface AgentsView {
  report: AgentsReport | null;
  error: string | null;
}

/**
 * The entries in the answer's order (configured servers, then unknown names): the object's own
 * order puts integer-like names ("1", "42") first. Names the answer's `order` leaves out (there are
 * none from this version's daemon) come after it, in the object's order.
 */
export function agentsInOrder(report: AgentsReport | null): [string, AgentEntry][] {
  if (report === null) return [];
  const listed = new Set((Array.isArray(report.order) ? report.order : []).filter((n) => Object.hasOwn(report.agents, n)));
  const names = [...listed, ...Object.keys(report.agents).filter((n) => !listed.has(n))];
  return names.map((n) => [n, report.agents[n] as AgentEntry]);
}

export function useAgents(enabled: boolean): AgentsView | null {
  const [view, setView] = useState<AgentsView>({ report: null, error: null });
  useEffect(() => {
    if (!enabled) return undefined;
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    // The next call only after the last one answered: with etcd unreachable a call waits out the
    // daemon's retry_timeout, and calls every few seconds would pile up on the browser's few
    // connections to the daemon, ahead of the page's logins and actions.
    const ask = async (): Promise<void> => {
      const answer = await call('get_agents');
      if (stopped) return;
      // An RD is a refusal or a failure (etcd unreachable); the last report stays, marked.
      if ('result' in answer && answer.result === 'FAIL') setView((v) => ({ report: v.report, error: answer.details }));
      else setView({ report: answer as unknown as AgentsReport, error: null });
      timer = setTimeout(() => void ask(), AGENTS_EVERY_MS);
    };
    void ask();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [enabled]);
  return enabled ? view : null;
}
