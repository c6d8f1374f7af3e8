/** Failover history: each change with its steps as a timeline, durations and outcome. */
import { html } from '../html';
import { dateTime, duration, startToEnd } from '../format';
import type { FailoverRecord } from '../types';

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

export function HistoryView({ history }: { history: FailoverRecord[] }) {
  return html`<section aria-labelledby="history-title">
    <h2 id="history-title">Failover history</h2>
    ${history.length === 0 ? html`<p class="muted">No failover, switchover or promotion yet.</p>` : history.map((r) => html`<${HistoryEntry} key=${r.id} record=${r} />`)}
  </section>`;
}
