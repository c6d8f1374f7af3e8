/** A clone's progress: bar, percent, phase and bytes; the outcome once it ended. */
import { html } from '../html';
import { bytes } from '../format';
import type { ActionProgress } from '../types';

export function ProgressBar({ progress }: { progress: ActionProgress | null }) {
  if (progress === null) return null;
  const percent = progress.percent ?? (progress.state === 'done' ? 100 : 0);
  const text = progress.state === 'running'
    ? `${progress.kind} ${percent.toFixed(0)} % · ${progress.phase} · ${bytes(progress.bytes_done)} of ${bytes(progress.bytes_total)}`
    : `${progress.kind} ${progress.state}${progress.details ? `: ${progress.details}` : ''}`;
  return html`<div class=${`progress ${progress.state}`} data-progress-state=${progress.state} data-percent=${percent.toFixed(0)}>
    <progress max="100" value=${percent} aria-label=${text}></progress>
    <span class="progress-text" title=${text}>${text}</span>
  </div>`;
}
