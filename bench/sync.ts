/**
 * bench:sync — synchronous replication (issue 15) against the same faults and load with
 * synchronous_mode off: the concurrent probe (8 writers as fast as they can plus one every 20 ms,
 * its own process), then a fault on the master, then every acknowledged row looked up on the new
 * master. Faults with the single in-process controller (sync-scenario.ts): the master's tree
 * SIGKILLed (`kill`), the same 0.3 s after its WAL senders were frozen (`frozen_walsenders`), the
 * master isolated by iptables (`isolated`: a single controller refuses to fail over from a master
 * it cannot fence). Faults of the `ha` deployment, answered through the node agent's master lease
 * (sync-lease-scenario.ts: real etcd, a controller daemon, john's agent): the master's host lost
 * (`host_lost`: every packet to and from its address dropped, its clients' included) and the
 * master isolated from the controller, its replicas and etcd while its clients still reach it
 * (`isolated_agents`). Every fault run counts the 50 ms sampler's samples with two writable
 * servers. Then the write stall when the only synchronous standby is killed (`standby_loss`, `on`:
 * until the set shrinks), and the probe on a bare cluster without HandyRep, asynchronous and ANY 1
 * in turns (`bare`: what PostgreSQL's synchronous round trip costs on this machine by itself,
 * `postgres_only_*`). A fresh cluster per run; BENCH_RUNS runs of each (default 3).
 *
 * BENCH_FAULTS=host_lost,isolated_agents runs only those parts and merges their figures into the
 * existing bench/results/sync.json (see sync-summary.ts: the earlier run's totals and throughput
 * are kept as they were; the maxima are taken again over every fault).
 * Writes bench/results/sync.json (one flat object, units in the keys).
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { cleanupAll } from '../test/fixtures/chaos.js';
import { measureBarePostgres } from '../test/fixtures/sync-bare.js';
import { runLeaseFault } from '../test/fixtures/sync-lease-scenario.js';
import { runStandbyLoss, runSyncFault } from '../test/fixtures/sync-scenario.js';
import { CONTROLLER_FAULTS, FAULTS, faultFields, faultMaxima, median, mergeSummary, parseParts, parseSummary, type BenchFault, type FaultRun, type Summary } from './sync-summary.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const WRITERS = 8;
const RESULT_FILE = 'bench/results/sync.json';
const filtered = (process.env.BENCH_FAULTS ?? '').trim() !== '';
const parts = parseParts(process.env.BENCH_FAULTS);
const faults = FAULTS.filter((f) => parts.includes(f));

async function runFault(mode: 'on' | 'off', fault: BenchFault, run: number): Promise<FaultRun & { note: string }> {
  const label = `bench sync ${mode} ${fault} #${run}`;
  const loadAverage1m = Math.round((loadavg()[0] ?? 0) * 100) / 100;
  if (fault === 'host_lost' || fault === 'isolated_agents') {
    const r = await runLeaseFault({ mode, fault, writers: WRITERS, loadMs: 3000, label });
    return { ...r, loadAverage1m, note: `old master acked ${r.ackedByOldMasterAfterFault} after the cut → ${r.newMaster}` };
  }
  const r = await runSyncFault({ mode, fault, writers: WRITERS, loadMs: 3000, label });
  return { mode, fault, acked: r.acked, lost: r.lost, tps: r.tps, writeGapMs: r.writeGapMs, splitBrainSamples: r.splitBrainSamples, loadAverage1m, note: `→ ${r.newMaster}` };
}

const results: FaultRun[] = [];
const failed: { mode: 'on' | 'off'; fault: BenchFault }[] = [];
const summary: Summary = { runs: RUNS, writers: WRITERS };
try {
  for (let run = 1; run <= RUNS; run++) {
    for (const fault of faults) {
      for (const mode of ['on', 'off'] as const) {
        const started = Date.now();
        try {
          const r = await runFault(mode, fault, run);
          results.push(r);
          console.log(`#${run} ${mode} ${fault}: acked ${r.acked}, lost ${r.lost}, ${r.tps} commits/s, write gap ${r.writeGapMs} ms, split-brain samples ${r.splitBrainSamples}, load ${r.loadAverage1m}, ${r.note} (${Math.round((Date.now() - started) / 1000)} s)`);
        } catch (err) {
          // A failed run (split brain included: closeBed throws on it) is counted and shown, not hidden.
          failed.push({ mode, fault });
          console.log(`#${run} ${mode} ${fault}: FAILED after ${Math.round((Date.now() - started) / 1000)} s: ${(err as Error).message.slice(0, 2000)}`);
        }
      }
    }
  }
  for (const fault of faults) Object.assign(summary, faultFields(fault, results, failed));
  if (!filtered) {
    // Totals over every fault; throughput over the single-controller faults (the same bed as before).
    const sync = results.filter((r) => r.mode === 'on');
    const async = results.filter((r) => r.mode === 'off');
    const tpsOf = (rs: FaultRun[]): number => median(rs.filter((r) => CONTROLLER_FAULTS.includes(r.fault)).map((r) => r.tps)) ?? 0;
    const syncTps = tpsOf(sync);
    const asyncTps = tpsOf(async);
    Object.assign(summary, {
      sync_lost_acked_rows_total: sync.reduce((a, r) => a + r.lost, 0),
      async_lost_acked_rows_total: async.reduce((a, r) => a + r.lost, 0),
      sync_acked_rows_total: sync.reduce((a, r) => a + r.acked, 0),
      async_acked_rows_total: async.reduce((a, r) => a + r.acked, 0),
      sync_tps: syncTps,
      async_tps: asyncTps,
      sync_tps_ratio: asyncTps === 0 ? null : Math.round((syncTps / asyncTps) * 100) / 100,
    });
  }
  if (parts.includes('standby_loss')) {
    const stalls: number[] = [];
    for (let run = 1; run <= RUNS; run++) {
      const s = await runStandbyLoss('on', 8000);
      console.log(`#${run} standby lost (on): stall ${s.stallMs} ms, recorded ${JSON.stringify(s.recorded)}`);
      if (s.stallMs !== null) stalls.push(s.stallMs);
    }
    summary['sync_standby_loss_stall_ms_median'] = median(stalls);
  }
  if (parts.includes('bare')) {
    const bare = await measureBarePostgres(RUNS, 3000, WRITERS);
    console.log(`bare PostgreSQL (no HandyRep): async ${bare.asyncTps.join(', ')} commits/s; ANY 1 ${bare.syncTps.join(', ')} commits/s`);
    const bareAsync = median(bare.asyncTps) ?? 0;
    const bareSync = median(bare.syncTps) ?? 0;
    Object.assign(summary, {
      postgres_only_async_tps: bareAsync,
      postgres_only_sync_tps: bareSync,
      postgres_only_sync_tps_ratio: bareAsync === 0 ? null : Math.round((bareSync / bareAsync) * 100) / 100,
    });
  }
  // A filtered run keeps the earlier `runs` (its own count is in the per-fault `_runs`).
  if (filtered) delete summary['runs'];
  const written = filtered ? mergeSummary(parseSummary(await readFile(RESULT_FILE, 'utf8')), summary) : { ...summary, ...faultMaxima(summary) };
  console.log(JSON.stringify(written, null, 2));
  await mkdir('bench/results', { recursive: true });
  await writeFile(RESULT_FILE, `${JSON.stringify(written, null, 2)}\n`);
} finally {
  await cleanupAll();
}
