/**
 * bench:sync's arithmetic (pure; unit-tested in test/unit/bench-sync-summary.test.ts): which parts
 * BENCH_FAULTS selects, the flat per-fault figures of a set of runs, and how a filtered run's
 * figures are merged into the bench/results/sync.json of an earlier run.
 */

/** The faults bench:sync runs with `on` and `off`; then the two parts without a fault pair. */
export const FAULTS = ['kill', 'frozen_walsenders', 'isolated', 'host_lost', 'isolated_agents'] as const;
export type BenchFault = (typeof FAULTS)[number];
export const PARTS = [...FAULTS, 'standby_loss', 'bare'] as const;
export type BenchPart = (typeof PARTS)[number];

/** The faults of the single in-process controller; the throughput figures (sync_tps …) are theirs. */
export const CONTROLLER_FAULTS: readonly BenchFault[] = ['kill', 'frozen_walsenders', 'isolated'];

/** What one fault run tells the summary (a failed run is counted, not measured). */
export interface FaultRun {
  mode: 'on' | 'off';
  fault: BenchFault;
  acked: number;
  lost: number;
  tps: number;
  writeGapMs: number | null;
  splitBrainSamples: number;
  /** The machine's 1-minute load average when the run started (it is shared: throughput depends on it). */
  loadAverage1m: number;
}

export type Summary = Record<string, number | null>;

/** BENCH_FAULTS ("host_lost,isolated_agents"): the parts to run; unset or empty: all of them. */
export function parseParts(value: string | undefined): BenchPart[] {
  if (value === undefined || value.trim() === '') return [...PARTS];
  const names = value.split(',').map((n) => n.trim()).filter((n) => n !== '');
  const unknown = names.filter((n) => !(PARTS as readonly string[]).includes(n));
  if (unknown.length > 0) throw new Error(`BENCH_FAULTS: unknown part(s) ${unknown.join(', ')}; known: ${PARTS.join(', ')}`);
  return PARTS.filter((p) => names.includes(p));
}

export function median(xs: readonly number[]): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

const maxOf = (xs: readonly number[]): number | null => (xs.length === 0 ? null : Math.max(...xs));
const sum = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0);

const PREFIX = { on: 'sync', off: 'async' } as const;

/** Per fault and mode: `<sync|async>_<fault>_lost_acked_rows_max|_total`, `_acked_rows_total`, `_window_ms_median`, `_tps_median`, `_load_average_1m_median`, `_split_brain_samples`, `_runs`, `_failed_runs`. */
export function faultFields(fault: BenchFault, runs: readonly FaultRun[], failed: { mode: 'on' | 'off'; fault: BenchFault }[]): Summary {
  const out: Summary = {};
  for (const mode of ['on', 'off'] as const) {
    const mine = runs.filter((r) => r.fault === fault && r.mode === mode);
    const key = `${PREFIX[mode]}_${fault}`;
    out[`${key}_lost_acked_rows_max`] = maxOf(mine.map((r) => r.lost));
    out[`${key}_lost_acked_rows_total`] = sum(mine.map((r) => r.lost));
    out[`${key}_acked_rows_total`] = sum(mine.map((r) => r.acked));
    out[`${key}_window_ms_median`] = median(mine.filter((r) => r.writeGapMs !== null).map((r) => r.writeGapMs as number));
    out[`${key}_tps_median`] = median(mine.map((r) => r.tps));
    const load = median(mine.map((r) => r.loadAverage1m));
    out[`${key}_load_average_1m_median`] = load === null ? null : Math.round(load * 100) / 100;
    out[`${key}_split_brain_samples`] = sum(mine.map((r) => r.splitBrainSamples));
    out[`${key}_runs`] = mine.length;
    out[`${key}_failed_runs`] = failed.filter((f) => f.fault === fault && f.mode === mode).length;
  }
  return out;
}

/** Values of the keys matching `<prefix>_<fault>_<suffix>` for every fault (the ones present and not null). */
function perFault(summary: Summary, prefix: string, suffix: string): number[] {
  return FAULTS.map((f) => summary[`${prefix}_${f}_${suffix}`]).filter((v): v is number => typeof v === 'number');
}

/**
 * The aggregates that are maxima or counts over every fault present (so they stay right when a
 * filtered run is merged into an earlier one): sync_lost_acked_rows_max, async_lost_acked_rows_max,
 * split_brain_samples (sum of the per-fault counts present: runs written before the sampler's count was
 * kept failed on any split brain instead, so they had none), failed_runs.
 */
export function faultMaxima(summary: Summary): Summary {
  return {
    sync_lost_acked_rows_max: maxOf(perFault(summary, 'sync', 'lost_acked_rows_max')),
    async_lost_acked_rows_max: maxOf(perFault(summary, 'async', 'lost_acked_rows_max')),
    split_brain_samples: sum([...perFault(summary, 'sync', 'split_brain_samples'), ...perFault(summary, 'async', 'split_brain_samples')]),
    failed_runs: sum([...perFault(summary, 'sync', 'failed_runs'), ...perFault(summary, 'async', 'failed_runs')]),
  };
}

/**
 * A filtered run's figures over an earlier sync.json: this run's keys replace the earlier ones,
 * every other earlier key is kept as it was (totals and throughput of the earlier run stay that
 * run's), and the maxima are taken again over every fault present.
 */
export function mergeSummary(earlier: Summary, current: Summary): Summary {
  const merged = { ...earlier, ...current };
  return { ...merged, ...faultMaxima(merged) };
}

/** Reads an earlier sync.json's flat object; anything but numbers and nulls is an error naming the key. */
export function parseSummary(text: string): Summary {
  const value: unknown = JSON.parse(text);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('bench/results/sync.json: not a flat JSON object');
  const out: Summary = {};
  for (const [k, v] of Object.entries(value)) {
    if (v !== null && typeof v !== 'number') throw new Error(`bench/results/sync.json: ${k} is not a number`);
    out[k] = v;
  }
  return out;
}
