/**
 * What get_agents answers: each node agent's member record (`members/<node>` in etcd, written by
 * src/agent/member-record.ts) as the operator sees it, one entry per configured server and one per
 * record under a node name that is not configured. Plain data (the dashboard imports these types).
 */

/**
 * - `reporting`: a record observed within the staleness bound;
 * - `stale`: a record observed longer ago than that (or later, by more: the clocks differ);
 * - `missing`: no record: the agent is not running, cannot reach etcd, or its member lease expired;
 * - `unreadable`: a record that is not a member record (not JSON, fields missing);
 * - `misnamed`: a record naming another node than its key's (a misconfigured agent).
 */
export type AgentState = 'reporting' | 'stale' | 'missing' | 'unreadable' | 'misnamed';

/** The step of the agent's boot that holds the node (the record's `boot_step`, or an older agent's `boot_copy`). */
export interface AgentBootStep {
  step: 'copy' | 'rewind' | 'initdb' | 'standby_settings' | 'start';
  since: string;
  /** The copy's or rewind's source; null for the other steps. */
  source: string | null;
  reclone: boolean;
}

export interface AgentEntry {
  /** A server of this controller's configuration; false: a record under a name it does not know. */
  configured: boolean;
  state: AgentState;
  /** For people: what is wrong; null while reporting. */
  problem: string | null;
  /** The agent's clock when it observed (ISO), and how long before the read that was (the controller's clock). */
  observed_at: string | null;
  age_ms: number | null;
  /** The name inside the record (differs from the key's node when misnamed). */
  record_name: string | null;
  role: 'master' | 'replica' | null;
  /** PostgreSQL as the agent sees it: running, stopped, ... */
  postgres: string | null;
  in_recovery: boolean | null;
  timeline: number | null;
  wal_position: string | null;
  received_lsn: string | null;
  replayed_lsn: string | null;
  /**
   * A replica's bytes behind the master's position as the master's own agent published it (its
   * record, when fresh and running as master), from the replica's furthest received or replayed
   * position; null when either is unknown. Two records of slightly different moments: a guide.
   */
  lag_bytes: number | null;
  wal_receiver: string | null;
  sender_host: string | null;
  /** The master the `master` key named when the agent wrote. */
  recorded_master: string | null;
  /** The agent's own probe of the recorded master (null: it did not probe, e.g. it is the master). */
  master_probed: string | null;
  sees_master: boolean | null;
  sees_master_detail: string | null;
  probed_at: string | null;
  /** What the agent's boot is doing; null when no boot step holds the node. */
  boot_step: AgentBootStep | null;
  server_version: string | null;
  agent_version: number | null;
}

export interface AgentsReport {
  /** The controller's clock at the read (ISO). */
  read_at: string;
  /** The etcd revision of the read. */
  revision: string;
  /** A record observed longer ago than this counts as stale (etcd.ttl: an agent rewrites its record at least every third of it). */
  stale_after_ms: number;
  /**
   * The entries by node name. A JSON object's keys do not keep this order everywhere: JavaScript
   * (and so `JSON.parse` in a browser or Node) lists integer-like keys ("1", "42") first, in
   * numeric order. Show them in `order`'s.
   */
  agents: Record<string, AgentEntry>;
  /** The keys of `agents` in the order to show them: configured servers in configuration order, then unknown names sorted. */
  order: string[];
}

/**
 * The node names of a get_agents answer in the order to show them: its `order`, read leniently (an
 * older daemon's answer has none: the object's own order then), with any key it leaves out after it.
 */
export function agentNamesInOrder(agents: object, order: unknown): string[] {
  const keys = Object.keys(agents);
  if (!Array.isArray(order)) return keys;
  const listed = new Set(order.filter((name): name is string => typeof name === 'string' && Object.hasOwn(agents, name)));
  return [...listed, ...keys.filter((name) => !listed.has(name))];
}
