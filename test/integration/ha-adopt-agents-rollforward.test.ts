/**
 * Issue 14, deployment `ha`: an adoption interrupted between its `adopt` step and its
 * `connection_failover` step is rolled forward at the next controller's start
 * (runtime/topology/recovery.ts over the etcd journal). Real etcd, three real PostgreSQL nodes, a
 * real agent per node, a real pgbouncer as the connection proxy, controller daemons:
 *   1. ctl-a leads, points pgbouncer at john; ctl-a is stopped, john's host is lost, the agents
 *      elect and confirm a new master;
 *   2. pgbouncer is stopped (SIGSTOP: its admin console accepts and never answers), ctl-b starts and
 *      adopts: the moment its journal in etcd shows `adopt` done and `connection_failover` running,
 *      ctl-b is SIGKILLed (no production hook: the step hangs on the frozen pgbouncer);
 *   3. pgbouncer resumes, ctl-c starts: it finds the journal, rolls the adoption forward to the
 *      writable adopted master (no failover), re-points pgbouncer and runs the
 *      extra_failover_command; the journal is cleared.
 * A second case kills ctl-c too, during its recovery's own connection_failover: ctl-d recovers the
 * recovery, still as an adoption (engine/roll-forward.ts recoveredKind: before, the recovery's
 * journal said only `recovery`, and ctl-d remastered the replicas the agents re-point).
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { waitUntil } from '../fixtures/chaos.js';
import { leaders, readKeyJson } from '../fixtures/etcd-controllers.js';
import { AGENTS_ENTRY_ID, closeAdoptRig, electedWithoutController, getJson, openBouncerRig, startAdoptController, withLogs, type AdoptEntry, type AdoptRig, type AdoptStatus } from '../fixtures/ha-adopt.js';
import type { Controller } from '../fixtures/etcd-controllers.js';
import { signal } from '../fixtures/proc.js';

interface JournalStep {
  name: string;
  server: string | null;
  outcome: string;
}

type Watcher = Awaited<ReturnType<ReturnType<ReturnType<AdoptRig['client']['watch']>['key']>['create']>>;

/**
 * Starts controller `name` and SIGKILLs it as soon as its journal (of `kind`) shows
 * connection_failover running (it hangs on the frozen pgbouncer); returns the journal's steps then.
 */
async function killDuringConnectionFailover(rig: AdoptRig, watcher: Watcher, name: string, controller: Parameters<typeof startAdoptController>[2], kind: string): Promise<JournalStep[]> {
  const seen: string[] = [];
  let running: JournalStep[] | null = null;
  let pid = 0;
  let done: (steps: JournalStep[]) => void = () => undefined;
  const killed = new Promise<JournalStep[]>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`never saw ${kind}'s connection_failover running; journal steps seen: ${seen.join(' → ')}`)), 60_000);
    done = (steps) => {
      clearTimeout(timer);
      signal(pid, 'SIGKILL');
      resolve(steps);
    };
  });
  const onPut = (kv: { value: Buffer }): void => {
    const journal = JSON.parse(kv.value.toString()) as { kind?: string; steps?: JournalStep[] };
    const last = journal.steps?.at(-1);
    if (!last || running !== null || journal.kind !== kind) return;
    seen.push(`${last.name}:${last.outcome}`);
    if (last.name !== 'connection_failover' || last.outcome !== 'running') return;
    running = journal.steps ?? [];
    if (pid !== 0) done(running);
  };
  watcher.on('put', onPut);
  try {
    // Its takeover may journal the step before its start returns.
    const started: Controller = await startAdoptController(rig, name, controller);
    pid = started.daemon.pid;
    if (running !== null) done(running);
    return await killed;
  } finally {
    watcher.off('put', onPut);
  }
}

describe('an adoption interrupted between adopt and connection_failover rolls forward at the next start', { timeout: 300_000 }, () => {
  let rig: AdoptRig | null = null;
  let frozen: number | null = null;

  after(async () => {
    if (frozen !== null) signal(frozen, 'SIGCONT');
    await closeAdoptRig(rig);
  });

  it('ctl-b killed during connection_failover of its adoption → ctl-c rolls forward: pgbouncer routes to the adopted master, the command ran', async () => {
    const t0 = Date.now();
    const mark = (what: string): void => console.log(`# ${what} at ${Date.now() - t0} ms`);
    const opened = await openBouncerRig('ha-adopt-agents-rollforward', (r) => (rig = r));
    const current = opened.rig;
    const { client, prefix } = current;
    const { bouncer: proxy, marker } = opened;
    const watcher = await client.watch().key(`${prefix}journal`).create();
    try {
      const elected = await electedWithoutController(opened);
      mark(`${elected} elected`);

      frozen = Number(readFileSync(join(proxy.dir, 'pgbouncer.pid'), 'utf8').trim());
      assert.ok(Number.isInteger(frozen) && frozen > 0, 'the pgbouncer pid');
      signal(frozen, 'SIGSTOP');
      const atKill = await killDuringConnectionFailover(current, watcher, 'ctl-b', opened.controller, 'adoption');
      mark('ctl-b killed');
      assert.deepEqual(atKill.map((s) => `${s.name} ${s.outcome}`), ['adopt ok', 'connection_failover running'], 'killed between adopt and connection_failover');
      assert.ok(await readKeyJson(client, `${prefix}journal`), 'the killed controller left its journal in etcd');
      signal(frozen, 'SIGCONT');
      frozen = null;
      assert.equal(existsSync(marker), false, 'the extra command had not run');

      const ctlC = await startAdoptController(current, 'ctl-c', opened.controller);
      mark('ctl-c started');
      await waitUntil(async () => (await leaders([ctlC])).length === 1, "ctl-c leads (after ctl-b's lease ran out)", 30_000);
      await waitUntil(async () => (await readKeyJson(client, `${prefix}journal`)) === null, 'the journal is cleared', 30_000);
      mark('journal cleared');
      const status = await getJson<AdoptStatus>(ctlC, '/get_status');
      assert.equal(status.servers[elected]?.role, 'master', JSON.stringify(status.servers));
      const history = await getJson<AdoptEntry[]>(ctlC, '/failover_history');
      const recovery = history.find((h) => h.kind === 'recovery');
      assert.ok(recovery, JSON.stringify(history));
      assert.equal(recovery.outcome, 'SUCCESS', JSON.stringify(recovery));
      assert.equal(recovery.to, elected, 'rolled forward to the adopted master');
      const adoption = history.filter((h) => h.kind === 'adoption');
      assert.equal(adoption.length, 1, JSON.stringify(history));
      assert.equal(adoption[0]?.outcome, 'FAIL', 'the interrupted adoption entry');
      assert.deepEqual(history.filter((h) => !['adoption', 'recovery'].includes(h.kind) && !AGENTS_ENTRY_ID.test(h.id)), [], 'no failover by a controller');
      // What the adoption had not run, and nothing an adoption never does (the agents remaster the replicas).
      const steps = recovery.steps.map((st) => `${st.name}${st.server === null ? '' : ` ${st.server}`} ${st.outcome}`);
      assert.deepEqual(steps, [`connection_failover ${elected} ok`, 'extra_command:note ok'], JSON.stringify(recovery.steps));
      const routed = await proxy.query('postgres');
      assert.deepEqual([routed.addr, routed.in_recovery], [current.bed.node(elected).host, false], `pgbouncer routes to the adopted master ${elected}`);
      assert.equal(readFileSync(marker, 'utf8').trim(), `${elected} from john`);
      mark('checked');
    } catch (err) {
      throw withLogs(current, err);
    } finally {
      await watcher.cancel();
    }
  });
});

describe('a recovery of an interrupted adoption, interrupted in turn, is recovered as an adoption', { timeout: 300_000 }, () => {
  let rig: AdoptRig | null = null;
  let frozen: number | null = null;

  after(async () => {
    if (frozen !== null) signal(frozen, 'SIGCONT');
    await closeAdoptRig(rig);
  });

  it('ctl-b killed in its adoption, ctl-c killed in its recovery (both during connection_failover) → ctl-d rolls forward as an adoption: nobody remastered, one master', async () => {
    const t0 = Date.now();
    const mark = (what: string): void => console.log(`# ${what} at ${Date.now() - t0} ms`);
    const opened = await openBouncerRig('ha-adopt-agents-rollforward-2', (r) => (rig = r));
    const current = opened.rig;
    const { client, prefix } = current;
    const { bouncer: proxy, marker } = opened;
    const watcher = await client.watch().key(`${prefix}journal`).create();
    try {
      const elected = await electedWithoutController(opened);
      mark(`${elected} elected`);
      frozen = Number(readFileSync(join(proxy.dir, 'pgbouncer.pid'), 'utf8').trim());
      assert.ok(Number.isInteger(frozen) && frozen > 0, 'the pgbouncer pid');
      signal(frozen, 'SIGSTOP');
      await killDuringConnectionFailover(current, watcher, 'ctl-b', opened.controller, 'adoption');
      mark('ctl-b killed');
      // pgbouncer still frozen: ctl-c's recovery hangs on its own connection_failover.
      const inRecovery = await killDuringConnectionFailover(current, watcher, 'ctl-c', opened.controller, 'recovery');
      mark('ctl-c killed');
      assert.deepEqual(inRecovery.map((s) => `${s.name} ${s.server ?? ''} ${s.outcome}`), [`connection_failover ${elected} running`], 'no remaster by the first recovery');
      const journal = await readKeyJson(client, `${prefix}journal`) as { kind: string; recovers?: string; to: string | null } | null;
      assert.deepEqual([journal?.kind, journal?.recovers, journal?.to], ['recovery', 'adoption', elected], "the killed recovery's journal names the kind it recovers and its target");
      signal(frozen, 'SIGCONT');
      frozen = null;

      const ctlD = await startAdoptController(current, 'ctl-d', opened.controller);
      mark('ctl-d started');
      await waitUntil(async () => (await leaders([ctlD])).length === 1, "ctl-d leads (after ctl-c's lease ran out)", 30_000);
      await waitUntil(async () => (await readKeyJson(client, `${prefix}journal`)) === null, 'the journal is cleared', 30_000);
      mark('journal cleared');
      const status = await getJson<AdoptStatus>(ctlD, '/get_status');
      const masters = Object.entries(status.servers).filter(([, s]) => s.role === 'master' && s.enabled).map(([n]) => n);
      assert.deepEqual(masters, [elected], JSON.stringify(status.servers));
      const history = await getJson<(AdoptEntry & { recovers?: string })[]>(ctlD, '/failover_history');
      const recoveries = history.filter((h) => h.kind === 'recovery');
      const last = recoveries.find((h) => h.outcome === 'SUCCESS');
      assert.ok(last, JSON.stringify(history));
      assert.equal(last.to, elected);
      // Before: it rolled forward as a failover and remastered the replicas the agents re-point.
      const steps = last.steps.map((st) => `${st.name}${st.server === null ? '' : ` ${st.server}`} ${st.outcome}`);
      assert.deepEqual(steps, [`connection_failover ${elected} ok`, 'extra_command:note ok'], JSON.stringify(last.steps));
      assert.equal(last.recovers, 'adoption', 'the recovery of the recovery is an adoption\'s');
      assert.ok(recoveries.some((h) => h.outcome === 'FAIL' && /interrupted during step connection_failover/.test(h.details)), JSON.stringify(recoveries));
      assert.deepEqual(history.filter((h) => !['adoption', 'recovery'].includes(h.kind) && !AGENTS_ENTRY_ID.test(h.id)), [], 'no failover by a controller');
      const routed = await proxy.query('postgres');
      assert.deepEqual([routed.addr, routed.in_recovery], [current.bed.node(elected).host, false], `pgbouncer routes to the adopted master ${elected}`);
      assert.equal(readFileSync(marker, 'utf8').trim(), `${elected} from john`);
      mark('checked');
    } catch (err) {
      throw withLogs(current, err);
    } finally {
      await watcher.cancel();
    }
  });
});
