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

type Opened = Awaited<ReturnType<typeof openBouncerRig>>;

/** What a scenario gets: the rig after the election, ctl-b killed between adopt and connection_failover, pgbouncer still frozen. */
interface Killed {
  opened: Opened;
  elected: string;
  watcher: Watcher;
  /** The adoption's journal steps when ctl-b was killed. */
  atKill: JournalStep[];
  unfreeze(): void;
  mark(what: string): void;
}

/**
 * One rig per case: the agents elect without a controller, pgbouncer is frozen (SIGSTOP), ctl-b
 * adopts and is SIGKILLed during connection_failover; then `rest` runs. Cleaned up after the case.
 */
function scenario(title: string, label: string, rest: (k: Killed) => Promise<void>): void {
  describe(title, { timeout: 300_000 }, () => {
    let rig: AdoptRig | null = null;
    let frozen: number | null = null;
    after(async () => {
      if (frozen !== null) signal(frozen, 'SIGCONT');
      await closeAdoptRig(rig);
    });
    it(title, async () => {
      const t0 = Date.now();
      const mark = (what: string): void => console.log(`# ${what} at ${Date.now() - t0} ms`);
      const opened = await openBouncerRig(label, (r) => (rig = r));
      const watcher = await opened.rig.client.watch().key(`${opened.rig.prefix}journal`).create();
      try {
        const elected = await electedWithoutController(opened);
        mark(`${elected} elected`);
        frozen = Number(readFileSync(join(opened.bouncer.dir, 'pgbouncer.pid'), 'utf8').trim());
        assert.ok(Number.isInteger(frozen) && frozen > 0, 'the pgbouncer pid');
        signal(frozen, 'SIGSTOP');
        const atKill = await killDuringConnectionFailover(opened.rig, watcher, 'ctl-b', opened.controller, 'adoption');
        mark('ctl-b killed');
        const unfreeze = (): void => {
          if (frozen !== null) signal(frozen, 'SIGCONT');
          frozen = null;
        };
        await rest({ opened, elected, watcher, atKill, unfreeze, mark });
      } catch (err) {
        throw withLogs(opened.rig, err);
      } finally {
        await watcher.cancel();
      }
    });
  });
}

/**
 * Starts `name`, waits until it leads and the journal is cleared, and checks what every good
 * roll-forward of this adoption leaves: one enabled master (the elected one), a SUCCESS recovery to
 * it whose steps are only what the adoption had not run (no remaster: the agents re-point the
 * replicas), no failover by a controller, pgbouncer routing to it, the command run. Returns the history.
 */
async function recoversTo(k: Killed, name: string): Promise<(AdoptEntry & { recovers?: string })[]> {
  const { rig, bouncer, marker, controller } = k.opened;
  const ctl = await startAdoptController(rig, name, controller);
  k.mark(`${name} started`);
  await waitUntil(async () => (await leaders([ctl])).length === 1, `${name} leads (after the killed one's lease ran out)`, 30_000);
  await waitUntil(async () => (await readKeyJson(rig.client, `${rig.prefix}journal`)) === null, 'the journal is cleared', 30_000);
  k.mark('journal cleared');
  const status = await getJson<AdoptStatus>(ctl, '/get_status');
  const masters = Object.entries(status.servers).filter(([, s]) => s.role === 'master' && s.enabled).map(([n]) => n);
  assert.deepEqual(masters, [k.elected], JSON.stringify(status.servers));
  const history = await getJson<(AdoptEntry & { recovers?: string })[]>(ctl, '/failover_history');
  const recovery = history.find((h) => h.kind === 'recovery' && h.outcome === 'SUCCESS');
  assert.ok(recovery, JSON.stringify(history));
  assert.equal(recovery.to, k.elected, 'rolled forward to the adopted master');
  // What the adoption had not run, and nothing an adoption never does (before `recovers`, a
  // recovery of a recovery rolled forward as a failover and remastered the replicas).
  const steps = recovery.steps.map((st) => `${st.name}${st.server === null ? '' : ` ${st.server}`} ${st.outcome}`);
  assert.deepEqual(steps, [`connection_failover ${k.elected} ok`, 'extra_command:note ok'], JSON.stringify(recovery.steps));
  assert.equal(recovery.recovers, 'adoption', "the recovery says it recovered an adoption");
  const adoption = history.filter((h) => h.kind === 'adoption');
  assert.equal(adoption.length, 1, JSON.stringify(history));
  assert.equal(adoption[0]?.outcome, 'FAIL', 'the interrupted adoption entry');
  assert.deepEqual(history.filter((h) => !['adoption', 'recovery'].includes(h.kind) && !AGENTS_ENTRY_ID.test(h.id)), [], 'no failover by a controller');
  const routed = await bouncer.query('postgres');
  assert.deepEqual([routed.addr, routed.in_recovery], [rig.bed.node(k.elected).host, false], `pgbouncer routes to the adopted master ${k.elected}`);
  assert.equal(readFileSync(marker, 'utf8').trim(), `${k.elected} from john`);
  k.mark('checked');
  return history;
}

scenario('ctl-b killed during connection_failover of its adoption → ctl-c rolls forward: pgbouncer routes to the adopted master, the command ran', 'ha-adopt-agents-rollforward', async (k) => {
  const { rig, marker } = k.opened;
  assert.deepEqual(k.atKill.map((s) => `${s.name} ${s.outcome}`), ['adopt ok', 'connection_failover running'], 'killed between adopt and connection_failover');
  assert.ok(await readKeyJson(rig.client, `${rig.prefix}journal`), 'the killed controller left its journal in etcd');
  k.unfreeze();
  assert.equal(existsSync(marker), false, 'the extra command had not run');
  const history = await recoversTo(k, 'ctl-c');
  assert.equal(history.filter((h) => h.kind === 'recovery').length, 1, JSON.stringify(history));
});

scenario('ctl-b killed in its adoption, ctl-c killed in its recovery (both during connection_failover) → ctl-d rolls forward as an adoption: nobody remastered, one master', 'ha-adopt-agents-rollforward-2', async (k) => {
  const { rig, controller } = k.opened;
  // pgbouncer still frozen: ctl-c's recovery hangs on its own connection_failover.
  const inRecovery = await killDuringConnectionFailover(rig, k.watcher, 'ctl-c', controller, 'recovery');
  k.mark('ctl-c killed');
  assert.deepEqual(inRecovery.map((s) => `${s.name} ${s.server ?? ''} ${s.outcome}`), [`connection_failover ${k.elected} running`], 'no remaster by the first recovery');
  const journal = (await readKeyJson(rig.client, `${rig.prefix}journal`)) as { kind: string; recovers?: string; to: string | null } | null;
  assert.deepEqual([journal?.kind, journal?.to], ['recovery', k.elected], "the killed recovery's journal names its target");
  k.unfreeze();
  const history = await recoversTo(k, 'ctl-d');
  assert.ok(history.some((h) => h.kind === 'recovery' && h.outcome === 'FAIL' && /interrupted during step connection_failover/.test(h.details)), 'the interrupted recovery is in the history');
});
