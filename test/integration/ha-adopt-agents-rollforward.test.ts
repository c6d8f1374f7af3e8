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
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { waitUntil } from '../fixtures/chaos.js';
import { leaders, readKeyJson } from '../fixtures/etcd-controllers.js';
import { AGENTS_ENTRY_ID, closeAdoptRig, electedWithoutController, getJson, openBouncerRig, startAdoptController, withLogs, type AdoptEntry, type AdoptRig, type AdoptStatus } from '../fixtures/ha-adopt.js';
import { signal } from '../fixtures/proc.js';

interface JournalStep {
  name: string;
  server: string | null;
  outcome: string;
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
      const seen: string[] = [];
      // The step is seen running (it hangs on the frozen pgbouncer); ctl-b is killed as soon as both
      // that and its pid are known (its takeover may journal the step before its start returns).
      let running: JournalStep[] | null = null;
      let ctlBPid = 0;
      let done: (steps: JournalStep[]) => void = () => undefined;
      const killed = new Promise<JournalStep[]>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`never saw connection_failover running; journal steps seen: ${seen.join(' → ')}`)), 60_000);
        done = (steps) => {
          clearTimeout(timer);
          signal(ctlBPid, 'SIGKILL');
          resolve(steps);
        };
      });
      watcher.on('put', (kv) => {
        const steps = (JSON.parse(kv.value.toString()) as { steps?: JournalStep[] }).steps ?? [];
        const last = steps.at(-1);
        if (!last || running !== null) return;
        seen.push(`${last.name}:${last.outcome}`);
        if (last.name !== 'connection_failover' || last.outcome !== 'running') return;
        running = steps;
        if (ctlBPid !== 0) done(steps);
      });
      const ctlB = await startAdoptController(current, 'ctl-b', opened.controller);
      ctlBPid = ctlB.daemon.pid;
      if (running !== null) done(running);
      const atKill = await killed;
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
