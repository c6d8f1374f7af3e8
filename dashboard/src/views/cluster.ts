/** The cluster at a glance: its status and reason, then one row per server. */
import { html } from '../html';
import { ago, statusClass } from '../format';
import { CLUSTER_ACTIONS, SERVER_ACTIONS, type ActionSpec } from '../actions';
import type { LiveState } from '../live';
import type { ServerRecord } from '../types';
import { agentsInOrder, type AgentsView } from '../agents';
import { AgentBadge } from './agent';
import { LagBar } from './lag-bar';
import { ProgressBar } from './progress';

export type Act = (action: ActionSpec, server: string) => void;

export function masterOf(state: LiveState): string | null {
  const found = Object.entries(state.servers).find(([, s]) => s.role === 'master' && s.enabled);
  return found ? found[0] : null;
}

export function ServerActions({ name, server, master, act }: { name: string; server: ServerRecord; master: string | null; act: Act }) {
  const offered = SERVER_ACTIONS.filter((a) => a.offered(server, master));
  return html`<span class="actions">${offered.map((a) => html`<button type="button" data-action=${a.id} data-server=${name} onClick=${() => act(a, name)}>${a.label}</button>`)}</span>`;
}

/** Fields a later controller (etcd leadership) adds; shown only when the data has them. */
function Leadership({ state }: { state: LiveState }) {
  const cluster = state.status?.cluster;
  const items = (['leader', 'agents', 'sync_set'] as const).filter((k) => cluster?.[k] !== undefined && cluster?.[k] !== null);
  if (items.length === 0) return null;
  return html`<dl class="leadership">${items.map((k) => html`<dt>${k.replace('_', ' ')}</dt><dd>${typeof cluster?.[k] === 'string' ? cluster[k] : JSON.stringify(cluster?.[k])}</dd>`)}</dl>`;
}

/** `agents`: the node agents' records (deployments with etcd), else null: no column. */
export function ClusterView({ state, agents, act }: { state: LiveState; agents: AgentsView | null; act: Act }) {
  const cluster = state.status?.cluster;
  const master = masterOf(state);
  const admin = state.access === 'admin';
  const names = Object.keys(state.servers).sort((a, b) => roleRank(state.servers[a]) - roleRank(state.servers[b]) || a.localeCompare(b));
  return html`<section aria-labelledby="cluster-title">
    <div class=${`cluster-status ${statusClass(cluster?.status_no)}`} data-testid="cluster-status" data-status=${cluster?.status ?? 'unknown'}>
      <h2 id="cluster-title">Cluster <span class="badge">${cluster?.status ?? 'unknown'}</span></h2>
      <p class="reason" title=${cluster?.status_message ?? ''}>${cluster?.status_message || '\u00a0'}</p>
      ${cluster?.paused ? html`<p class="paused" role="status">Automatic failover paused${cluster.paused_by ? ` by ${cluster.paused_by}` : ''}${cluster.paused_reason ? `: ${cluster.paused_reason}` : ''}</p>` : null}
      ${admin ? html`<div class="actions">${CLUSTER_ACTIONS.filter((a) => (a.id === 'pause') !== Boolean(cluster?.paused)).map((a) => html`<button type="button" data-action=${a.id} onClick=${() => act(a, '')}>${a.label}</button>`)}</div>` : null}
      <${Leadership} state=${state} />
    </div>
    <div class="table-wrap">
    <table class="servers">
      <caption class="sr-only">Servers</caption>
      <thead><tr><th>Server</th><th>Role</th><th>Status</th><th>Lag</th><th>TL</th><th>WAL position</th><th>Last check</th>${agents ? html`<th>Agent</th>` : null}${admin ? html`<th>Actions</th>` : null}</tr></thead>
      <tbody>${names.map((name) => {
        const s = state.servers[name] as ServerRecord;
        return html`<tr key=${name} class=${statusClass(s.status_no)} data-server=${name} data-status=${s.status} data-status-no=${s.status_no} data-role=${s.role}>
          <td><a href=${`#/server/${encodeURIComponent(name)}`}>${name}</a><div class="muted small">${s.hostname}:${s.port}${s.enabled ? '' : ' · disabled'}${s.fenced ? ' · fenced' : ''}</div></td>
          <td>${s.role}</td>
          <td class="status-cell"><span class="badge">${s.status}</span><div class="reason small" title=${s.status_message}>${s.status_message || '\u00a0'}</div>
            ${recentProgress(s) ? html`<${ProgressBar} progress=${s.action_progress} />` : null}</td>
          <td><${LagBar} server=${s} /></td>
          <td>${s.timeline ?? '—'}</td>
          <td class="mono">${s.wal_position ?? '—'}</td>
          <td title=${s.status_ts}>${ago(s.status_ts)}</td>
          ${agents ? html`<td class="agent-cell"><${AgentBadge} agents=${agents} name=${name} /></td>` : null}
          ${admin ? html`<td><${ServerActions} name=${name} server=${s} master=${master} act=${act} /></td>` : null}
        </tr>`;
      })}</tbody>
    </table>
    </div>
    ${agents ? html`<${UnknownAgents} agents=${agents} />` : null}
  </section>`;
}

/** Member records under names this controller does not have: a misconfigured or leftover agent. */
function UnknownAgents({ agents }: { agents: AgentsView }) {
  const unknown = agentsInOrder(agents.report).filter(([, e]) => !e.configured);
  if (unknown.length === 0) return null;
  return html`<p class="notice" data-testid="unknown-agents">Member records of agents under names not configured: ${unknown.map(([n, e]) => `${n} (${e.state})`).join(', ')}</p>`;
}

/** A running long action, or one that ended in the last few minutes (its outcome stays in view). */
const RECENT_MS = 5 * 60_000;
function recentProgress(s: ServerRecord): boolean {
  const p = s.action_progress;
  if (p === null) return false;
  return p.state === 'running' || (p.finished !== null && Date.now() - Date.parse(p.finished) < RECENT_MS);
}

function roleRank(s: ServerRecord | undefined): number {
  return s?.role === 'master' ? 0 : s?.role === 'replica' ? 1 : 2;
}
