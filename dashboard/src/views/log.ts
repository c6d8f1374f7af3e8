/** The event log, filtered by level, category and server; follows new entries unless paused. */
import { useEffect, useRef, useState } from 'preact/hooks';
import { html } from '../html';
import { time } from '../format';
import type { LogEntry } from '../types';

const LEVELS = ['debug', 'info', 'warn', 'error'] as const;
const SHOWN = 500;

export function LogView({ log }: { log: LogEntry[] }) {
  const [level, setLevel] = useState<string>('info');
  const [category, setCategory] = useState('');
  const [server, setServer] = useState('');
  const [follow, setFollow] = useState(true);
  const box = useRef<HTMLDivElement>(null);
  const minLevel = LEVELS.indexOf(level as (typeof LEVELS)[number]);
  const categories = [...new Set(log.map((e) => e.category))].sort();
  const servers = [...new Set(log.map((e) => e.server).filter((s): s is string => s !== undefined))].sort();
  const shown = log.filter((e) => LEVELS.indexOf(e.level) >= minLevel && (category === '' || e.category === category) && (server === '' || e.server === server)).slice(-SHOWN);
  useEffect(() => {
    if (follow && box.current) box.current.scrollTop = box.current.scrollHeight;
  });
  const select = (label: string, value: string, set: (v: string) => void, options: readonly string[], any: string | null) =>
    html`<label>${label} <select value=${value} onChange=${(e: Event) => set((e.target as HTMLSelectElement).value)}>
      ${any === null ? null : html`<option value="">${any}</option>`}${options.map((o) => html`<option value=${o}>${o}</option>`)}</select></label>`;
  return html`<section aria-labelledby="log-title">
    <h2 id="log-title">Log</h2>
    <div class="filters">
      ${select('Level', level, setLevel, LEVELS, null)}
      ${select('Category', category, setCategory, categories, 'all')}
      ${select('Server', server, setServer, servers, 'all')}
      <label><input type="checkbox" checked=${follow} onChange=${(e: Event) => setFollow((e.target as HTMLInputElement).checked)} /> Follow</label>
    </div>
    <div class="log" ref=${box} tabindex="0" role="log" aria-live=${follow ? 'polite' : 'off'}>
      ${shown.map((e) => html`<div class=${`log-line ${e.level}`}><span class="mono">${time(e.ts)}</span> <span class="lvl">${e.level}</span> <span class="cat">${e.category}</span>${e.server ? html` <span class="srv">${e.server}</span>` : null} <span class="msg">${e.message}</span></div>`)}
    </div>
  </section>`;
}
