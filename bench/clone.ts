/**
 * bench:clone — cloning a ~1 GB database through HandyRep against a bare pg_basebackup of the same
 * source with the same copy options (-X stream -c fast), in the same run, alternating so the page
 * cache favours neither, `sync` before each (untimed) so one copy's write-back does not slow the
 * next. Writes bench/results/clone.json:
 *  - handyrep_s: clone() called → the copy complete on the target (the same deliverable as the bare
 *    pg_basebackup, plus HandyRep's probes, claiming the target, running pg_basebackup on the node
 *    over ssh with progress); bare_s; ratio = handyrep_s / bare_s;
 *  - handyrep_total_s, total_ratio: clone() called → it returned SUCCESS (standby configured,
 *    started, streaming confirmed, enabled, verified): what a bare pg_basebackup still leaves to do.
 * Medians over BENCH_RUNS (default 7) of each.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { HandyRep } from '../src/api/handyrep.js';
import { startCluster, PG_BIN_DIR } from '../test/fixtures/cluster.js';
import { healAll } from '../test/fixtures/faults.js';
import { runOk } from '../test/fixtures/exec.js';
import { makeEmptyHost, nodeOf, postgresDir, writeConfigWithout } from '../test/integration/clone-helpers.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 7);
const TARGET_BYTES = Number(process.env.BENCH_CLONE_BYTES ?? 1024 ** 3);

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

const round = (v: number, digits = 2): number => Math.round(v * 10 ** digits) / 10 ** digits;

async function main(): Promise<void> {
  const cluster = await startCluster({ nodes: 2, names: ['john', 'ringo'] });
  let hr: HandyRep | null = null;
  try {
    const john = nodeOf(cluster, 'john');
    const ringo = nodeOf(cluster, 'ringo');
    const ringoConf = await makeEmptyHost(ringo);
    // ~1 KB rows: the table plus its TOAST-free heap comes to TARGET_BYTES.
    const rows = Math.ceil(TARGET_BYTES / 1040);
    const genStart = Date.now();
    await cluster.psql(john, `CREATE TABLE big AS SELECT g, repeat(md5(g::text), 28) AS pad FROM generate_series(1, ${rows}) g`);
    await cluster.psql(john, 'CHECKPOINT');
    const size = Number(await cluster.psql(john, "SELECT sum(pg_database_size(datname)) FROM pg_database"));
    console.log(`source: ${(size / 1048576).toFixed(0)} MB in all databases (generated in ${((Date.now() - genStart) / 1000).toFixed(1)} s)`);

    const path = writeConfigWithout(cluster, ['ringo']);
    hr = await HandyRep.open(path);
    await hr.init_handyrep_db();
    await hr.verify_all();
    const added = await hr.add_server('ringo', { hostname: ringo.host, port: ringo.port, pgdata: ringo.dataDir, pgconf: ringoConf });
    if (added.result !== 'SUCCESS') throw new Error(added.details);

    const bareDir = join(cluster.root, 'bare');
    postgresDir(bareDir, 0o700);
    // Flush what the previous copy left dirty, so it does not slow the next one down (not timed).
    const settle = async (): Promise<void> => {
      await runOk('/bin/sync', []);
    };
    const bare = async (): Promise<number> => {
      rmSync(join(bareDir, 'data'), { recursive: true, force: true });
      await settle();
      const started = performance.now();
      await runOk(
        join(PG_BIN_DIR, 'pg_basebackup'),
        ['-D', join(bareDir, 'data'), '-h', john.host, '-p', String(john.port), '-U', 'replicator', '-X', 'stream', '-c', 'fast', '-w'],
        { asPostgres: true, timeoutMs: 600000 },
      );
      return (performance.now() - started) / 1000;
    };
    const viaHandyRep = async (): Promise<{ copy: number; total: number }> => {
      // An empty host again (not timed).
      rmSync(ringo.dataDir, { recursive: true, force: true });
      postgresDir(ringo.dataDir, 0o700);
      await settle();
      const startedAt = Date.now();
      const started = performance.now();
      const rd = await hr!.clone('ringo');
      const total = (performance.now() - started) / 1000;
      if (rd.result !== 'SUCCESS') throw new Error(`clone failed: ${rd.details}`);
      const entries = (await hr!.read_log(60)).filter((e) => e.category === 'CLONE' && Date.parse(e.ts) >= startedAt).reverse();
      if (process.env.BENCH_CLONE_PHASES) for (const e of entries) console.log(`    +${Date.parse(e.ts) - startedAt} ms ${e.message}`);
      // The copy is complete when the clone moves on to configuring the standby.
      const copied = entries.find((e) => /configuring the standby/.test(e.message));
      if (!copied) throw new Error('no "configuring the standby" entry in the log');
      // Stopped again (not timed), so nothing else runs during the next copy.
      const disabled = await hr!.disable('ringo');
      if (disabled.result !== 'SUCCESS') throw new Error(disabled.details);
      return { copy: (Date.parse(copied.ts) - startedAt) / 1000, total };
    };

    const bareTimes: number[] = [];
    const copyTimes: number[] = [];
    const totalTimes: number[] = [];
    const viaHandyRepRecorded = async (): Promise<void> => {
      const t = await viaHandyRep();
      copyTimes.push(t.copy);
      totalTimes.push(t.total);
    };
    for (let i = 0; i < RUNS; i += 1) {
      // Alternate which goes first.
      if (i % 2 === 0) {
        bareTimes.push(await bare());
        await viaHandyRepRecorded();
      } else {
        await viaHandyRepRecorded();
        bareTimes.push(await bare());
      }
      console.log(`run ${i + 1}: bare pg_basebackup ${bareTimes.at(-1)?.toFixed(2)} s; HandyRep copy done ${copyTimes.at(-1)?.toFixed(2)} s, clone() returned ${totalTimes.at(-1)?.toFixed(2)} s`);
    }
    const result = {
      handyrep_s: round(median(copyTimes)),
      bare_s: round(median(bareTimes)),
      ratio: round(median(copyTimes) / median(bareTimes), 3),
      handyrep_total_s: round(median(totalTimes)),
      total_ratio: round(median(totalTimes) / median(bareTimes), 3),
      source_mb: Math.round(size / 1048576),
      runs: RUNS,
      // Flat, as every result file: the spread instead of the per-run lists (printed above).
      handyrep_max_s: round(Math.max(...copyTimes)),
      bare_max_s: round(Math.max(...bareTimes)),
    };
    console.log(`\nclone of ${result.source_mb} MB, medians of ${RUNS} runs:`);
    console.log(`  bare pg_basebackup                    ${result.bare_s.toFixed(2)} s`);
    console.log(`  HandyRep clone, copy complete          ${result.handyrep_s.toFixed(2)} s   ratio ${result.ratio.toFixed(3)} (bound 1.10: ${result.ratio <= 1.1 ? 'met' : 'NOT met'})`);
    console.log(`  HandyRep clone() returned (streaming,  ${result.handyrep_total_s.toFixed(2)} s   ratio ${result.total_ratio.toFixed(3)}`);
    console.log('    started, enabled, verified)');
    await mkdir('bench/results', { recursive: true });
    await writeFile('bench/results/clone.json', `${JSON.stringify(result, null, 2)}\n`);
    console.log('wrote bench/results/clone.json');
  } finally {
    await hr?.close();
    healAll();
    await cluster.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
