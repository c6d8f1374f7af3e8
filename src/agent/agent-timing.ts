/**
 * The one timing rule an agent's configuration must meet, checked when the agent starts (not by the
 * shared schema: a controller may well run with a ttl shorter than an agent's default margin).
 */
export interface AgentTiming {
  /** etcd.ttl, seconds. */
  ttl: number;
  /** agent.safety_margin, seconds. */
  safetyMargin: number;
}

/** What is wrong with the timing, or null: the master demotes ttl − safety_margin after its last renewal. */
export function agentTimingProblem(t: AgentTiming): string | null {
  if (t.safetyMargin >= t.ttl) {
    return `agent.safety_margin (${t.safetyMargin} s) must be less than etcd.ttl (${t.ttl} s): the master's agent demotes ttl − safety_margin after its last renewal`;
  }
  return null;
}
