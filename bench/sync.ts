/**
 * bench:sync — synchronous replication (issue 15) against the same faults and load with
 * synchronous_mode off: the concurrent probe (8 writers as fast as they can plus one every 20 ms,
 * its own process), the master's tree SIGKILLed, with and without its WAL senders frozen 0.3 s
 * before, and the master isolated by iptables (a single controller refuses to fail over from a
 * master it cannot fence); then every acknowledged row looked up on the master after. Also the write stall when the
 * only synchronous standby is killed (`on`: until the set shrinks). A fresh cluster per run.
 * Then the same probe on a bare cluster without HandyRep, asynchronous and ANY 1 in turns: what
 * PostgreSQL's synchronous round trip costs on this machine by itself (`postgres_only_*`), so
 * the part of the gap that is HandyRep's can be told from the part that is not.
 * Writes bench/results/sync.json (one flat object, units in the keys).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { cleanupAll } from '../test/fixtures/chaos.js';
import { measureBarePostgres } from '../test/fixtures/sync-bare.js';
import { runStandbyLoss, runSyncFault, type SyncFault, type SyncRunResult } from '../test/fixtures/sync-scenario.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const WRITERS = 8;
const FAULTS: SyncFault[] = ['kill', 'frozen_walsenders', 'isolated'];

const median = (xs: number[]): number | null => {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
};

const results: SyncRunResult[] = [];
try {
  for (let run = 1; run <= RUNS; run++) {
    for (const fault of FAULTS) {
      for (const mode of ['on', 'off'] as const) {
        const r = await runSyncFault({ mode, fault, writers: WRITERS, loadMs: 3000, label: `bench sync ${mode} ${fault} #${run}` });
        results.push(r);
        console.log(`#${run} ${mode} ${fault}: acked ${r.acked}, lost ${r.lost}, ${r.tps} commits/s, write gap ${r.writeGapMs} ms → ${r.newMaster}`);
      }
    }
  }
  const stalls: number[] = [];
  for (let run = 1; run <= RUNS; run++) {
    const s = await runStandbyLoss('on', 8000);
    console.log(`#${run} standby lost (on): stall ${s.stallMs} ms, recorded ${JSON.stringify(s.recorded)}`);
    if (s.stallMs !== null) stalls.push(s.stallMs);
  }
  const bare = await measureBarePostgres(RUNS, 3000, WRITERS);
  console.log(`bare PostgreSQL (no HandyRep): async ${bare.asyncTps.join(', ')} commits/s; ANY 1 ${bare.syncTps.join(', ')} commits/s`);
  const bareAsync = median(bare.asyncTps) ?? 0;
  const bareSync = median(bare.syncTps) ?? 0;
  const sync = results.filter((r) => r.mode === 'on');
  const async = results.filter((r) => r.mode === 'off');
  const syncTps = median(sync.map((r) => r.tps)) ?? 0;
  const asyncTps = median(async.map((r) => r.tps)) ?? 0;
  const summary = {
    runs: RUNS,
    writers: WRITERS,
    sync_lost_acked_rows_max: Math.max(...sync.map((r) => r.lost)),
    sync_lost_acked_rows_total: sync.reduce((a, r) => a + r.lost, 0),
    sync_kill_lost_acked_rows_max: Math.max(...sync.filter((r) => r.fault === 'kill').map((r) => r.lost)),
    sync_frozen_walsenders_lost_acked_rows_max: Math.max(...sync.filter((r) => r.fault === 'frozen_walsenders').map((r) => r.lost)),
    async_lost_acked_rows_total: async.reduce((a, r) => a + r.lost, 0),
    async_lost_acked_rows_max: Math.max(...async.map((r) => r.lost)),
    async_kill_lost_acked_rows_max: Math.max(...async.filter((r) => r.fault === 'kill').map((r) => r.lost)),
    async_frozen_walsenders_lost_acked_rows_max: Math.max(...async.filter((r) => r.fault === 'frozen_walsenders').map((r) => r.lost)),
    sync_tps: syncTps,
    async_tps: asyncTps,
    sync_tps_ratio: asyncTps === 0 ? null : Math.round((syncTps / asyncTps) * 100) / 100,
    postgres_only_async_tps: bareAsync,
    postgres_only_sync_tps: bareSync,
    postgres_only_sync_tps_ratio: bareAsync === 0 ? null : Math.round((bareSync / bareAsync) * 100) / 100,
    sync_isolated_lost_acked_rows_max: Math.max(...sync.filter((r) => r.fault === 'isolated').map((r) => r.lost)),
    async_isolated_lost_acked_rows_max: Math.max(...async.filter((r) => r.fault === 'isolated').map((r) => r.lost)),
    sync_kill_window_ms_median: median(sync.filter((r) => r.fault === 'kill' && r.writeGapMs !== null).map((r) => r.writeGapMs as number)),
    async_kill_window_ms_median: median(async.filter((r) => r.fault === 'kill' && r.writeGapMs !== null).map((r) => r.writeGapMs as number)),
    sync_standby_loss_stall_ms_median: median(stalls),
    sync_acked_rows_total: sync.reduce((a, r) => a + r.acked, 0),
    async_acked_rows_total: async.reduce((a, r) => a + r.acked, 0),
  };
  console.log(JSON.stringify(summary, null, 2));
  await mkdir('bench/results', { recursive: true });
  await writeFile('bench/results/sync.json', `${JSON.stringify(summary, null, 2)}\n`);
} finally {
  await cleanupAll();
}
