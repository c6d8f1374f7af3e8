/** What a node's agent last published (get_agents): a badge in the cluster table, a panel on the server page. */
import { html } from '../html';
import { dateTime } from '../format';
import type { AgentsView } from '../agents';
import type { AgentBootStep, AgentEntry } from '../types';

function seconds(ms: number | null): string {
  return ms === null ? '?' : `${Math.round(Math.abs(ms) / 1000)} s`;
}

/** Short words for the badge: the boot step first while it runs, else the agent's state. */
function badgeText(entry: AgentEntry): string {
  if (entry.state === 'missing') return 'no agent record';
  if (entry.state === 'stale') return `stale record, ${seconds(entry.age_ms)} old`;
  if (entry.state !== 'reporting') return entry.state;
  if (entry.boot_step !== null) return `boot: ${entry.boot_step.step}`;
  if (entry.sees_master === false) return 'does not see the master';
  return entry.role ?? entry.postgres ?? 'reporting';
}

/** s1 green, s3 amber, s5 red: the status colours of the table. */
function badgeClass(entry: AgentEntry): string {
  if (entry.state === 'missing' || entry.state === 'unreadable' || entry.state === 'misnamed') return 's5';
  if (entry.state === 'stale' || entry.boot_step !== null || entry.sees_master === false || !entry.configured) return 's3';
  return 's1';
}

export function AgentBadge({ agents, name }: { agents: AgentsView; name: string }) {
  const entry = agents.report?.agents[name];
  if (entry === undefined) return html`<span class="muted">${agents.error === null ? '…' : '?'}</span>`;
  // The last answer while the newest call failed: shown greyed, as what was last known.
  if (agents.error !== null) return html`<span class="badge agent-badge muted" data-agent-state="unknown" title=${`last known: ${badgeText(entry)}; get_agents failed: ${agents.error}`}>${badgeText(entry)}?</span>`;
  return html`<span class=${`badge agent-badge ${badgeClass(entry)}`} data-agent-state=${entry.state} title=${entry.problem ?? badgeText(entry)}>${badgeText(entry)}</span>`;
}

function bootText(step: AgentBootStep): string {
  return `${step.step}${step.source === null ? '' : ` from ${step.source}`}${step.reclone ? ' (reclone)' : ''} since ${dateTime(step.since)}`;
}

function Fact({ label, value }: { label: string; value: unknown }) {
  return html`<dt>${label}</dt><dd class="mono">${value === null || value === undefined ? html`<span class="muted">—</span>` : String(value)}</dd>`;
}

/** The panel's warning: what is wrong first, then the daemon's reason without repeating it. */
function warningText(entry: AgentEntry): string {
  const problem = entry.problem ?? '';
  if (entry.state === 'missing') return `No agent record: ${problem.replace(/^no member record: /, '')}`;
  if (entry.state !== 'stale') return `${entry.state}: ${problem}`;
  if (entry.age_ms !== null && entry.age_ms < 0) return `Stale record, ${seconds(entry.age_ms)} ahead: ${problem}`;
  return `Stale record, ${seconds(entry.age_ms)} old: ${problem.replace(/^stale record, [^:]*: /, '')}`;
}

export function AgentPanel({ agents, name }: { agents: AgentsView; name: string }) {
  const entry = agents.report?.agents[name];
  const failed = agents.error === null ? null : html`<p class="notice">get_agents failed: ${agents.error}</p>`;
  if (entry === undefined) return html`<div data-testid="agent-panel"><h3>Agent</h3>${failed}<p class="muted">${agents.report === null ? 'Reading the member records…' : 'No entry.'}</p></div>`;
  const warning = entry.state === 'reporting' ? null : html`<p class="notice" role="status" data-testid="agent-warning">${warningText(entry)}</p>`;
  const sees = entry.sees_master === null ? null : `${entry.sees_master ? 'yes' : 'no'} (${entry.master_probed ?? '?'})${entry.sees_master_detail ? `: ${entry.sees_master_detail}` : ''}`;
  return html`<div data-testid="agent-panel" data-agent-state=${entry.state} data-agent-role=${entry.role ?? ''}>
    <h3>Agent <span class=${`badge ${badgeClass(entry)}`}>${entry.state}</span></h3>
    ${failed}${warning}
    ${entry.boot_step ? html`<p class="boot-step" data-testid="boot-step"><b>Boot: ${bootText(entry.boot_step)}</b></p>` : null}
    <dl class="facts">
      <${Fact} label="role" value=${entry.role} />
      <${Fact} label="postgres" value=${entry.postgres} />
      <${Fact} label="record age" value=${entry.age_ms === null ? null : `${(entry.age_ms / 1000).toFixed(1)} s (observed ${dateTime(entry.observed_at)})`} />
      <${Fact} label="timeline" value=${entry.timeline} />
      <${Fact} label="wal_position" value=${entry.wal_position} />
      <${Fact} label="received / replayed" value=${entry.received_lsn === null && entry.replayed_lsn === null ? null : `${entry.received_lsn ?? '—'} / ${entry.replayed_lsn ?? '—'}`} />
      <${Fact} label="lag" value=${entry.lag_bytes === null ? null : `${(entry.lag_bytes / 1048576).toFixed(2)} MB behind the master's published position`} />
      <${Fact} label="wal receiver" value=${entry.wal_receiver === null ? null : `${entry.wal_receiver}${entry.sender_host ? ` from ${entry.sender_host}` : ''}`} />
      <${Fact} label="recorded master" value=${entry.recorded_master} />
      <${Fact} label="sees the master" value=${sees} />
      <${Fact} label="versions" value=${entry.agent_version === null && entry.server_version === null ? null : `agent ${entry.agent_version ?? '?'} · PostgreSQL ${entry.server_version ?? '?'}`} />
    </dl>
  </div>`;
}
