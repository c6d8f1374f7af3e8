/**
 * The node agents' member records (get_agents), for deployments with etcd only: the page asks
 * every few seconds while it shows them. They live in etcd, not in the controller's state, so no
 * state event announces a change (an agent's record ages, or goes with its lease, silently).
 */
import { useEffect, useState } from 'preact/hooks';
import { call } from './api';
import type { AgentsReport } from './types';

export const AGENTS_EVERY_MS = 3000;

/** The last answer and, when the last call failed, why; null when the deployment has no etcd. */
export interface AgentsView {
  report: AgentsReport | null;
  error: string | null;
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
