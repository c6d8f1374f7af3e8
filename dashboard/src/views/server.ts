/** One server: its definition, what the checks observed, its part in the history, its actions. */
import { html } from '../html';
import { ago, dateTime, mb, statusClass } from '../format';
import type { LiveState } from '../live';
import type { ServerRecord } from '../types';
import type { AgentsView } from '../agents';
import { AgentPanel } from './agent';
import { masterOf, ServerActions, type Act } from './cluster';
import { HistoryEntry } from './history';
import { ProgressBar } from './progress';

const OBSERVED = ['lag_bytes', 'lag_mb', 'lag_seconds', 'timeline', 'wal_position', 'wal_position_at', 'receive_lsn', 'pg_version_num', 'action', 'fenced', 'fence_unconfirmed'];
const STATUS = ['status', 'status_no', 'status_ts', 'status_message'];

function Value({ value }: { value: unknown }) {
  if (value === null || value === undefined) return html`<span class="muted">—</span>`;
  return html`${typeof value === 'object' ? JSON.stringify(value) : String(value)}`;
}

export function ServerPage({ name, state, agents, act }: { name: string; state: LiveState; agents: AgentsView | null; act: Act }) {
  const s = state.servers[name] as ServerRecord | undefined;
  if (s === undefined) return html`<section><h2>No server named ${name}</h2><p><a href="#/">Back to the cluster</a></p></section>`;
  const definition = Object.keys(s).filter((k) => !OBSERVED.includes(k) && !STATUS.includes(k) && k !== 'action_progress').sort();
  const history = state.history.filter((r) => r.from === name || r.to === name || r.steps.some((st) => st.server === name));
  return html`<section aria-labelledby="server-title" class="server-page">
    <h2 id="server-title">${name} <span class=${`badge ${statusClass(s.status_no)}`}>${s.status}</span></h2>
    <p class="reason">${s.status_message} <span class="muted">(${ago(s.status_ts)})</span></p>
    ${state.access === 'admin' ? html`<${ServerActions} name=${name} server=${s} master=${masterOf(state)} act=${act} />` : null}
    ${s.action_progress ? html`<h3>Long action</h3><${ProgressBar} progress=${s.action_progress} />` : null}
    <div class="columns">
      <div><h3>Observed</h3><dl class="facts">
        <dt>lag</dt><dd>${mb(s.lag_mb)} of ${s.lag_limit} MB · ${s.lag_seconds ?? '—'} s${s.lag_limit_seconds !== null ? ` of ${s.lag_limit_seconds} s` : ''}</dd>
        ${OBSERVED.map((k) => html`<dt>${k}</dt><dd class="mono"><${Value} value=${s[k]} /></dd>`)}
        <dt>last check</dt><dd>${dateTime(s.status_ts)}</dd>
      </dl></div>
      ${agents ? html`<${AgentPanel} agents=${agents} name=${name} />` : null}
      <div><h3>Definition</h3><dl class="facts">${definition.map((k) => html`<dt>${k}</dt><dd class="mono"><${Value} value=${s[k]} /></dd>`)}</dl></div>
    </div>
    <h3>In the failover history</h3>
    ${history.length === 0 ? html`<p class="muted">No failover, switchover or promotion involved ${name} (of the last ${state.history.length}).</p>` : history.map((r) => html`<${HistoryEntry} record=${r} />`)}
  </section>`;
}
