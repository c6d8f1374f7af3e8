/**
 * Chaos: the failover lag gate judges fresh facts (design.md §5.3, "never promote past the lag
 * limit"). paul, the sole candidate, stops receiving WAL (john's WAL sender for it is SIGSTOPped)
 * while john writes ~40 MB; then john crashes and cannot be restarted (its postgresql.conf is
 * broken: the refused failover's restart of the old master fails, so every cycle judges again).
 * paul's lag is the master's last known WAL position minus what paul received: it stays refused on
 * poll cycles and on verify cycles alike. (A verification while the master is down can only
 * measure received − replayed, ≈ 0: it used to rewrite paul's lag to 0 and let it be promoted.)
 * The refusal, the same at every cycle (~10 s of them), is one episode (engine/refusal-episode.ts):
 * one FAIL entry in the history and one CRITICAL alert (push_alert_command into a file), not one
 * per cycle. Quiet in its effects too (engine/refusal-repeat.ts): a repeat the snapshot shows
 * unchanged writes no failover journal (its `failover started` lines, one per journal begun, are
 * counted in the log) and tries john's restart only as its backoff comes due (1 s, 2 s, 4 s, ...
 * apart: the poll interval doubling). Once john can start again, the next restart due brings the
 * changed refusal (john restarted): recorded and alerted.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crash } from '../fixtures/faults.js';
import { signal } from '../fixtures/proc.js';
import { cleanupAll, closeBed, nodeState, openBed, sleep, sqlOn, waitUntil, writableNodes } from '../fixtures/chaos.js';

after(cleanupAll);

const LAG_LIMIT_MB = 16;
/** FAILOVER_TEST_SETTINGS.poll_interval: the restart backoff's first step. */
const POLL_MS = 1000;

/** HandyRep's log entries (JSON lines) from line `from` on: [time ms, message]. */
function logSince(root: string, from: number): { all: number; entries: [number, string][] } {
  const lines = readFileSync(join(root, 'handyrep.log'), 'utf8').split('\n').filter(Boolean);
  const entries = lines.slice(from).flatMap((l): [number, string][] => {
    try {
      const e = JSON.parse(l) as { time?: string; msg?: string };
      return [[Date.parse(e.time ?? ''), e.msg ?? '']];
    } catch {
      return [];
    }
  });
  return { all: lines.length, entries };
}
const BROKEN_SETTING = '\nhandyrep_test_broken_setting = on\n';

/** The failover FAIL alerts delivered (push_alert_command writes type|category|server|message). */
function failoverAlerts(file: string): string[] {
  const lines = existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : [];
  return lines.filter((l) => l.startsWith('CRITICAL|FAILOVER|') && l.includes('failover FAIL'));
}

/** `verifyBefore`: the last check while john is up is a verification (else only polls saw john's position). */
async function soleLaggingCandidate(verifyBefore: boolean): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'handyrep-refusal-alerts-'));
  const alerts = join(dir, 'alerts.txt');
  const script = join(dir, 'alert.sh');
  writeFileSync(script, `#!/bin/sh\nprintf '%s|%s|%s|%s\\n' "$1" "$2" "$3" "$4" >> '${alerts}'\n`);
  chmodSync(script, 0o755);
  const bed = await openBed({
    nodes: 2,
    handyrep: { push_alert_method: 'push_alert_command' },
    beforeOpen: async () => ({ plugins: { push_alert_command: { command: [script] } } }),
    servers: { paul: { lag_limit: LAG_LIMIT_MB } },
    label: `sole candidate past its lag limit (${verifyBefore ? 'verified' : 'polled'} before the crash)`,
    expect: 'no_failover',
    endsWithoutMaster: 'the only candidate is past its lag limit and the old master cannot start: FAIL no_candidate',
  });
  let walSender: number | null = null;
  try {
    const hr = bed.h();
    const john = bed.node('john');
    const paul = bed.node('paul');
    const sender = await sqlOn(john, 'SELECT pid FROM pg_stat_replication');
    assert.ok(sender.ok && /^\d+$/.test(sender.out), `john's WAL sender for paul: ${sender.out}`);
    walSender = Number(sender.out);
    signal(walSender, 'SIGSTOP');
    const write = await sqlOn(john, "CREATE TABLE big (n int, pad text); INSERT INTO big SELECT g, repeat('x', 500) FROM generate_series(1, 60000) g", 60_000);
    assert.ok(write.ok, write.out);
    const behind = await sqlOn(john, 'SELECT pg_current_wal_lsn()::text');
    const received = await sqlOn(paul, 'SELECT pg_last_wal_receive_lsn()::text');
    const gap = await sqlOn(john, `SELECT round(pg_wal_lsn_diff('${behind.out}', '${received.out}') / 1048576.0, 1)`);
    assert.ok(Number(gap.out) > 2 * LAG_LIMIT_MB, `paul must trail john by well over ${LAG_LIMIT_MB} MB, trails by ${gap.out} MB`);

    // The last check while john is up records john's WAL position (a verification also sees paul lagged).
    const before = await hr.failover_check(verifyBefore);
    assert.equal(before.result, 'SUCCESS', before.details);
    if (verifyBefore) assert.equal((await hr.get_server_info('paul')).paul?.status, 'lagged');

    await crash(john);
    // Its control channel stays (so it counts as stoppable, not unreachable), but it cannot start.
    const conf = join(john.dataDir, 'postgresql.conf');
    appendFileSync(conf, BROKEN_SETTING);
    walSender = null;

    const lines: string[] = [];
    const logFrom = logSince(bed.cluster.root, 0).all;
    // ~10 s of cycles, polls and verifications alternating (at least four).
    const started = Date.now();
    for (let cycle = 0; cycle < 4 || Date.now() - started < 10_000; cycle += 1) {
      const verify = cycle % 2 === 1;
      const rd = await hr.failover_check(verify);
      const info = (await hr.get_server_info('paul')).paul;
      lines.push(`${verify ? 'verify' : 'poll'} ${rd.result}: ${rd.details} | paul lag_mb ${String(info?.lag_mb)} status ${String(info?.status)}`);
      const story = `\n  ${lines.join('\n  ')}\nlog:\n${bed.logTail(25)}`;
      assert.equal(rd.result, 'FAIL', story);
      assert.match(rd.details, new RegExp(`no viable replica.*paul lag \\d+\\.\\d MB > lag_limit ${LAG_LIMIT_MB} MB`), story);
      assert.equal((rd as { reason_code?: string }).reason_code, 'no_candidate', story);
      if (verify || verifyBefore) assert.ok((info?.lag_mb ?? 0) > LAG_LIMIT_MB, `a verification while the master is down must not lower paul's recorded lag${story}`);
      assert.deepEqual(await writableNodes(bed.cluster), [], story);
      assert.equal(await nodeState(paul), 'replica', story);
      assert.equal(await hr.get_master_name(), 'john', story);
    }
    const story = `\n  ${lines.join('\n  ')}\nlog:\n${bed.logTail(25)}`;
    // Quiet in its effects: a journal begun (and cleared) only for the attempts that tried john's
    // restart, and those spaced by the backoff; every other cycle answered without an attempt.
    const { entries } = logSince(bed.cluster.root, logFrom);
    const begun = entries.filter(([, m]) => m.startsWith('failover started:'));
    const restarts = entries.filter(([, m]) => m.includes('failover step restart_old_master'));
    const quiet = entries.filter(([, m]) => m.startsWith('failover refused again:') && m.includes('nothing journaled'));
    const effects = `${lines.length} cycles; journals begun at ${begun.map(([t]) => new Date(t).toISOString().slice(17, 23)).join(', ')}; restarts at ${restarts.map(([t]) => new Date(t).toISOString().slice(17, 23)).join(', ')}${story}`;
    assert.equal(begun.length, restarts.length, `every attempt tried the restart; no journal without one: ${effects}`);
    assert.ok(begun.length >= 2 && begun.length <= 5, `the first attempt and the restarts due over ~10 s (0, 1, 3, 7 s), not one per cycle: ${effects}`);
    assert.ok(begun.length < lines.length, effects);
    assert.equal(quiet.length, lines.length - begun.length, `the other cycles answered without an attempt: ${effects}`);
    restarts.slice(1).forEach(([t], i) => {
      const gap = t - (restarts[i] as [number, string])[0];
      // The n-th gap is at least the poll interval times 2^(n-1) (less the log's timing slack).
      assert.ok(gap >= POLL_MS * 2 ** i - 250, `restart ${i + 2} came ${gap} ms after the previous one: ${effects}`);
    });
    const history = await hr.failover_history(10);
    // Every cycle attempted and refused a failover (the transcript above); the same refusal is recorded once.
    assert.deepEqual(history.map((r) => [r.kind, r.outcome, r.from]), [['failover', 'FAIL', 'john']], `${lines.length} cycles${story}`);
    assert.match(history[0]?.details ?? '', /no viable replica.*old master john could not be restarted/, story);
    assert.ok(lines.slice(1).every((l) => l.includes('logged only, not recorded or alerted again')), story);
    await waitUntil(async () => failoverAlerts(alerts).length >= 1, 'the refusal alert delivered', 10_000);
    await sleep(1500); // anything else queued would be delivered by now
    assert.equal(failoverAlerts(alerts).length, 1, `one alert for the episode:\n${failoverAlerts(alerts).join('\n')}${story}`);

    // A change: john can start again. The refusal differs once the next restart due has run (john
    // restarted; until then the cycles stay quiet): recorded and alerted.
    writeFileSync(conf, readFileSync(conf, 'utf8').replace(BROKEN_SETTING, ''));
    let changed = await hr.failover_check(false);
    const fixed = Date.now();
    while (!/old master john restarted/.test(changed.details) && Date.now() - fixed < 70_000) {
      assert.match(changed.details, /not restarted this time/, `${changed.details}${story}`);
      changed = await hr.failover_check(false);
    }
    lines.push(`after the fix (${Date.now() - fixed} ms): ${changed.result}: ${changed.details}`);
    assert.match(changed.details, /no viable replica.*old master john restarted/, `${changed.details}${story}`);
    const recorded = await hr.failover_history(10);
    assert.deepEqual(recorded.map((r) => r.outcome), ['FAIL', 'FAIL'], `${recorded.map((r) => r.details).join('\n')}${story}`);
    await waitUntil(async () => failoverAlerts(alerts).length >= 2, 'the changed refusal alerted', 10_000);
    assert.deepEqual(await writableNodes(bed.cluster), ['john'], story);
    console.log(`# ${verifyBefore ? 'verified' : 'polled'} before the crash; paul trailed john by ${gap.out} MB; cycles:\n#   ${lines.join('\n#   ')}`);
  } finally {
    if (walSender !== null) signal(walSender, 'SIGCONT');
    await closeBed(bed);
    rmSync(dir, { recursive: true, force: true });
  }
}

test('a sole candidate far past its lag limit stays refused across poll and verify cycles once the master is gone', { timeout: 150_000 }, () => soleLaggingCandidate(true));

test('the same when only polls saw the master after the lag built up (its WAL position is recorded at every poll)', { timeout: 150_000 }, () => soleLaggingCandidate(false));
