/**
 * The node agents' member records (get_agents), for deployments with etcd only: the page asks
 * every few seconds while it is visible (agents-schedule.ts). They live in etcd, not in the
 * controller's state, so no state event announces a change (an agent's record ages, or goes with
 * its lease, silently).
 */
import { useEffect, useState } from 'preact/hooks';
import { call } from './api';
import { nextAgentsCallMs } from './agents-schedule';
import type { AgentEntry, AgentsReport } from './types';

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
    let asking = false;
    let failures = 0;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const visible = (): boolean => document.visibilityState === 'visible';
    const schedule = (): void => {
      clearTimeout(timer);
      const wait = nextAgentsCallMs(visible(), failures);
      if (wait !== null) timer = setTimeout(() => void ask(), wait);
    };
    // The next call only after the last one answered: with etcd unreachable a call waits out the
    // daemon's retry_timeout, and calls every few seconds would pile up on the browser's few
    // connections to the daemon, ahead of the page's logins and actions.
    const ask = async (): Promise<void> => {
      if (asking) return;
      asking = true;
      const answer = await call('get_agents');
      asking = false;
      if (stopped) return;
      // An RD is a refusal or a failure (etcd unreachable); the last report stays, marked.
      if ('result' in answer && answer.result === 'FAIL') {
        failures += 1;
        setView((v) => ({ report: v.report, error: answer.details }));
      } else {
        failures = 0;
        setView({ report: answer as unknown as AgentsReport, error: null });
      }
      schedule();
    };
    // A hidden tab asks nothing (nobody reads it); shown again, it asks at once. A call under way
    // when the tab hides ends, and schedules nothing.
    const onVisibility = (): void => {
      clearTimeout(timer);
      if (visible()) void ask();
    };
    document.addEventListener('visibilitychange', onVisibility);
    if (visible()) void ask();
    return () => {
      stopped = true;
      clearTimeout(timer);
      document.removeEventListener('visibilitychange', onVisibility);
    };
  }, [enabled]);
  return enabled ? view : null;
}
