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
import { waitUntil } from '../fixtures/chaos.js';
import { leaders, readKeyJson } from '../fixtures/etcd-controllers.js';
import { AGENTS_ENTRY_ID, getJson, startAdoptController, type AdoptEntry, type AdoptStatus } from '../fixtures/ha-adopt.js';
import { killDuringConnectionFailover, scenario, type Killed } from '../fixtures/ha-adopt-kill.js';

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
