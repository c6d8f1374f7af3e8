/** Replication lag and check latency over the last hour, from the daemon's ring buffers (uPlot). */
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import { html } from '../html';
import type { Point, Series } from '../types';

const COLORS = ['#2f7ed8', '#d9534f', '#5cb85c', '#f0ad4e', '#8e44ad', '#16a085'];

/** Align per-server points on one time axis (uPlot's data shape); missing values are null. */
function aligned(perServer: Record<string, Point[]>, column: number): { names: string[]; data: uPlot.AlignedData } {
  const names = Object.keys(perServer).sort();
  const times = [...new Set(names.flatMap((n) => (perServer[n] ?? []).map((p) => p[0] as number)))].sort((a, b) => a - b);
  const index = new Map(times.map((t, i) => [t, i]));
  const columns = names.map((n) => {
    const values: (number | null)[] = new Array(times.length).fill(null);
    for (const p of perServer[n] ?? []) values[index.get(p[0] as number) as number] = p[column] ?? null;
    return values;
  });
  return { names, data: [times, ...columns] as uPlot.AlignedData };
}

function Chart({ title, unit, perServer, column }: { title: string; unit: string; perServer: Record<string, Point[]>; column: number }) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const shape = useRef('');
  const { names, data } = aligned(perServer, column);
  useEffect(() => {
    const element = box.current;
    if (!element) return;
    const key = names.join(',');
    if (plot.current === null || shape.current !== key) {
      plot.current?.destroy();
      shape.current = key;
      plot.current = new uPlot({
        width: Math.max(280, element.clientWidth),
        height: 220,
        series: [{}, ...names.map((n, i) => ({ label: n, stroke: COLORS[i % COLORS.length] as string, width: 1.5, spanGaps: true }))],
        axes: [{ stroke: 'currentColor', grid: { stroke: 'rgba(128,128,128,.2)' } }, { stroke: 'currentColor', grid: { stroke: 'rgba(128,128,128,.2)' }, label: unit }],
        scales: { x: { time: true } },
      }, data, element);
    } else plot.current.setData(data);
  });
  useEffect(() => () => plot.current?.destroy(), []);
  return html`<figure class="chart"><figcaption>${title}</figcaption><div class="chart-box" ref=${box}></div></figure>`;
}

export function ChartsView({ series }: { series: Series }) {
  return html`<section aria-labelledby="charts-title">
    <h2 id="charts-title">Last hour</h2>
    <${Chart} title="Replication lag (MB)" unit="MB" perServer=${series.lag} column=${1} />
    <${Chart} title="Replication lag (seconds)" unit="s" perServer=${series.lag} column=${2} />
    <${Chart} title="Check latency (ms)" unit="ms" perServer=${series.checks} column=${1} />
  </section>`;
}
