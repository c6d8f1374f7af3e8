/** A replica's lag as a bar against its limit (MB), with the seconds beside it. Fixed size: no layout shift. */
import { html } from '../html';
import { mb } from '../format';
import type { ServerRecord } from '../types';

export function LagBar({ server }: { server: ServerRecord }) {
  if (server.role !== 'replica') return html`<span class="muted">—</span>`;
  const limit = server.lag_limit > 0 ? server.lag_limit : 1;
  const fraction = server.lag_mb === null ? 0 : Math.min(1, server.lag_mb / limit);
  const level = fraction >= 1 ? 'over' : fraction >= 0.5 ? 'high' : 'ok';
  const seconds = server.lag_seconds === null ? '—' : `${server.lag_seconds.toFixed(1)} s`;
  const label = `lag ${mb(server.lag_mb)} of ${server.lag_limit} MB, ${seconds}`;
  return html`<span class="lag" title=${label} aria-label=${label}>
    <span class="lag-track"><span class=${`lag-fill ${level}`} style=${{ width: `${(fraction * 100).toFixed(1)}%` }}></span></span>
    <span class="lag-text">${mb(server.lag_mb)} · ${seconds}</span>
  </span>`;
}
