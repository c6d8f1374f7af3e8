/**
 * Summarises the chaos scenarios' sampler reports (one JSON line each) into
 * bench/results/chaos.json (one flat object) and a readable table.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import type { SamplerReport } from '../test/fixtures/split-brain-sampler.js';

/** One line per scenario, as the sampler appends it. */
type Report = SamplerReport;

const [file, seconds, status, runs] = process.argv.slice(2);
if (!file || !seconds) throw new Error('usage: chaos-summary.ts <reports.jsonl> <duration_s> [runner exit status] [runs]');
const reports = readFileSync(file, 'utf8')
  .split('\n')
  .filter((l) => l.trim() !== '')
  .map((l) => JSON.parse(l) as Report);

const summary = {
  scenarios: reports.length,
  samples: reports.reduce((n, r) => n + r.samples, 0),
  split_brain_samples: reports.filter((r) => !r.split_brain_accepted).reduce((n, r) => n + r.split_brain_samples, 0),
  // Only where the configuration accepts an unconfirmed fence (unreachable_master: promote).
  split_brain_samples_accepted: reports.filter((r) => r.split_brain_accepted).reduce((n, r) => n + r.split_brain_samples, 0),
  false_failovers: reports.filter((r) => r.expected === 'no_failover' && r.failovers > 0).length,
  stuck: reports.filter((r) => r.writable_at_end.length !== 1 && r.no_master_reason === null).length,
  ends_without_master_by_design: reports.filter((r) => r.writable_at_end.length === 0 && r.no_master_reason !== null).length,
  lost_acked_rows: reports.reduce((n, r) => n + r.lost_acked_rows, 0),
  scenarios_counting_rows: reports.filter((r) => r.rows_checked).length,
  runs: Number(runs ?? 1),
  // Runs with random timings (chaos --repeat): their seeds replay them (HANDYREP_CHAOS_SEED).
  random_timing_runs: new Set(reports.map((r) => r.seed).filter((s) => s !== null)).size,
  random_timing_seeds: [...new Set(reports.map((r) => r.seed).filter((s) => s !== null))].join(' '),
  runner_failed: status === '0' ? 0 : 1,
  duration_s: Number(seconds),
};

for (const r of reports) {
  const end = r.writable_at_end.join(',') || `none${r.no_master_reason ? ` (by design: ${r.no_master_reason})` : ''}`;
  console.log(`${r.seed === null ? '' : `[seed ${r.seed}] `}${r.label.padEnd(48)} samples ${String(r.samples).padStart(5)}  split-brain ${r.split_brain_samples}${r.split_brain_accepted ? ' (accepted: unconfirmed fence)' : ''}  failovers ${r.failovers}${r.expected ? ` (expected ${r.expected})` : ''}  writable at end: ${end}`);
}
console.log(`\nchaos: ${summary.scenarios} scenarios, ${summary.samples} samples, split-brain samples ${summary.split_brain_samples} (${summary.split_brain_samples_accepted} more where an unconfirmed fence is configured), false failovers ${summary.false_failovers}, stuck ${summary.stuck}, lost acknowledged rows ${summary.lost_acked_rows} (in the ${summary.scenarios_counting_rows} scenarios that count them), ${summary.duration_s} s`);
mkdirSync('bench/results', { recursive: true });
writeFileSync('bench/results/chaos.json', `${JSON.stringify(summary, null, 2)}\n`);
