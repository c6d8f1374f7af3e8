/** Failover history: each change with its steps as a timeline, durations and outcome. */
import { html } from '../html';
import { dateTime, duration, startToEnd, time } from '../format';
import type { FailoverRecord, LogEntry } from '../types';

const STARTED = /^(failover|switchover|promote|recovery) started/;

/**
 * A change still running: its steps are journaled and logged as they run, the history entry
 * comes when it ends. Shown from the log: every FAILOVER line since the newest "… started".
 */
function RunningChange({ history, log }: { history: FailoverRecord[]; log: LogEntry[] }) {
  let start = -1;
  for (let i = log.length - 1; i >= 0; i--) {
    const entry = log[i] as LogEntry;
    if (entry.category === 'FAILOVER' && STARTED.test(entry.message)) {
      start = i;
      break;
    }
  }
  if (start < 0) return null;
  const startedAt = Date.parse((log[start] as LogEntry).ts);
  const newest = history[0];
  if (newest && Date.parse(newest.finished ?? newest.started) >= startedAt) return null;
  const lines = log.slice(start).filter((e) => e.category === 'FAILOVER');
  return html`<article class="history-entry running" data-testid="running-change" aria-live="polite">
    <h3>In progress <span class="badge">RUNNING</span></h3>
    <ol class="running-steps">${lines.map((e) => html`<li><span class="mono small">${time(e.ts)}</span> ${e.message}</li>`)}</ol>
  </article>`;
}

export function HistoryEntry({ record }: { record: FailoverRecord }) {
  const total = record.duration_ms ?? startToEnd(record.started, record.finished) ?? 1;
  const t0 = Date.parse(record.started);
  return html`<article class=${`history-entry ${record.outcome.toLowerCase()}`} data-history-id=${record.id} data-kind=${record.kind} data-outcome=${record.outcome}>
    <header>
      <h3>${record.kind} ${record.from ?? '?'} → ${record.to ?? '?'} <span class="badge">${record.outcome}</span></h3>
      <p class="muted small">${dateTime(record.started)} · ${duration(record.duration_ms)}${record.fence ? ` · fence ${record.fence}` : ''}</p>
      <p>${record.reason}</p>
      <p class="small">${record.details}</p>
    </header>
    <ol class="steps">${record.steps.map((step) => {
      const start = Date.parse(step.started) - t0;
      const length = startToEnd(step.started, step.finished) ?? 0;
      return html`<li class=${`step ${step.outcome}`}>
        <span class="step-name">${step.name}${step.server ? ` (${step.server})` : ''}</span>
        <span class="step-bar" aria-hidden="true"><span style=${{ left: `${Math.min(100, (start / total) * 100)}%`, width: `${Math.max(0.5, Math.min(100, (length / total) * 100))}%` }}></span></span>
        <span class="step-time">${duration(length)} · ${step.outcome}</span>
        ${step.details ? html`<span class="step-details small muted">${step.details}</span>` : null}
      </li>`;
    })}</ol>
  </article>`;
}

export function HistoryView({ history, log }: { history: FailoverRecord[]; log: LogEntry[] }) {
  return html`<section aria-labelledby="history-title">
    <h2 id="history-title">Failover history</h2>
    <${RunningChange} history=${history} log=${log} />
    ${history.length === 0 ? html`<p class="muted">No failover, switchover or promotion yet.</p>` : history.map((r) => html`<${HistoryEntry} key=${r.id} record=${r} />`)}
  </section>`;
}
