/**
 * The roll-forward's hard cases on a real bed (engine/roll-forward.ts decides,
 * runtime/topology/recovery.ts acts). Cases (a), (b), (b2), deployment `ha`: real etcd, three real
 * PostgreSQL nodes, a real agent per node, a real pgbouncer; the agents elect after john's host is
 * lost, ctl-b adopts the elected master and is SIGKILLed during the adoption's
 * `connection_failover` (ha-adopt-kill.ts), then:
 *  (a) a third server is promoted by hand while no controller leads: ctl-c's recovery finds two
 *      writable servers besides the old master and refuses (FAIL, split brain, cluster down): the
 *      book keeps at most one enabled master, the hand-promoted server is never adopted nor routed to;
 *  (b) the adopted master's host is lost before ctl-c leads: the journal proves the adoption, so
 *      ctl-c rolls forward to it although it does not answer, and its next failover checks fail it
 *      over to the remaining replica, which holds a write the lost master had acknowledged;
 *  (b2) the same loss, the agents electing again before ctl-c leads: the recovery refuses (the
 *      proven adoption and the new master), the takeover then adopts the new election.
 * Case (c), the chaos bed (file journal, controllers in child processes): a failover killed during
 * `remaster`, its recovery killed during its own `remaster`, the promoted master frozen at the
 * next start: the third start recovers to it from the killed recovery's journal alone.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, test } from 'node:test';
import type { FailoverRecord } from '../../src/model/failover-record.js';
import { cleanupAll, closeBed, nodeState, openBed, readJournalFile, spawnController, sqlOn, waitUntil, within, writableNodes, type Bed, type ChildController } from '../fixtures/chaos.js';
import { assertRowsOn, killAndRecover, seedAckedRows } from '../fixtures/chaos-kill.js';
import { crash, freeze, thaw } from '../fixtures/faults.js';
import { leaders, readKeyJson, type Controller } from '../fixtures/etcd-controllers.js';
import { killHost } from '../fixtures/agents-election.js';
import { AGENTS_ENTRY_ID, electionView, getJson, startAdoptController, type AdoptEntry, type AdoptStatus } from '../fixtures/ha-adopt.js';
import { scenario, type Killed } from '../fixtures/ha-adopt-kill.js';
import { signal } from '../fixtures/proc.js';

type Entry = AdoptEntry & { recovers?: string; fence?: string };

/** The node neither john (lost) nor the elected master: the replica that stays. */
function thirdOf(k: Killed): string {
  const name = k.opened.rig.bed.cluster.nodes.map((n) => n.name).find((n) => n !== 'john' && n !== k.elected);
  assert.ok(name, 'a third node');
  return name;
}

function enabledMasters(status: AdoptStatus): string[] {
  return Object.entries(status.servers)
    .filter(([, s]) => s.role === 'master' && s.enabled)
    .map(([n]) => n);
}

/** Starts `name`; returns it once it leads and its recovery has cleared the journal. */
async function recovering(k: Killed, name: string): Promise<Controller> {
  const { rig, controller } = k.opened;
  const ctl = await startAdoptController(rig, name, controller);
  k.mark(`${name} started`);
  await waitUntil(async () => (await leaders([ctl])).length === 1, `${name} leads (after the killed one's lease ran out)`, 30_000);
  await waitUntil(async () => (await readKeyJson(rig.client, `${rig.prefix}journal`)) === null, 'the journal is cleared', 30_000);
  k.mark('journal cleared');
  return ctl;
}

function recoveryOf(history: Entry[]): Entry {
  const recoveries = history.filter((h) => h.kind === 'recovery');
  assert.equal(recoveries.length, 1, JSON.stringify(history));
  return recoveries[0] as Entry;
}

/** A write the adopted master acknowledged, replayed by `replica` (the one that stays). */
async function ackedWrite(k: Killed, replica: string): Promise<void> {
  const { bed } = k.opened.rig;
  const wrote = await sqlOn(bed.node(k.elected), "CREATE TABLE acked (v text); INSERT INTO acked VALUES ('before-the-loss')");
  assert.ok(wrote.ok, wrote.out);
  await waitUntil(async () => (await sqlOn(bed.node(replica), 'SELECT v FROM acked')).out === 'before-the-loss', `${replica} replayed the acknowledged write`, 20_000);
}

/** What every good end leaves: `master` the book's only enabled master and the only writable server (never two sampled), the acknowledged write on it, pgbouncer routing to it. */
async function endsOn(k: Killed, ctl: Controller, master: string): Promise<void> {
  const { rig, bouncer } = k.opened;
  const status = await getJson<AdoptStatus>(ctl, '/get_status');
  assert.deepEqual(enabledMasters(status), [master], JSON.stringify(status.servers));
  assert.deepEqual(await writableNodes(rig.bed.cluster), [master], 'one writable server');
  const sampled = rig.bed.sampler.current();
  assert.equal(sampled.split_brain_samples, 0, `two writable servers sampled (every 50 ms): ${sampled.examples.join(', ')}`);
  assert.equal((await sqlOn(rig.bed.node(master), 'SELECT v FROM acked')).out, 'before-the-loss', 'the acknowledged write survived');
  const routed = await bouncer.query('postgres');
  assert.deepEqual([routed.addr, routed.in_recovery], [rig.bed.node(master).host, false], `pgbouncer routes to ${master}`);
}

scenario('(a) a third server promoted by hand before the roll-forward → the recovery refuses (split brain): at most one master in the book, never it, nothing re-pointed to it', 'ha-rollforward-split', async (k) => {
  const { rig, bouncer } = k.opened;
  const third = thirdOf(k);
  const node = rig.bed.node(third);
  // Its agent stopped first (an agent stops a writable node that holds no master lease): the
  // promotion stays, as an operator's `pg_ctl promote` on a host whose agent is down would.
  await rig.agents.get(third)?.stop('SIGKILL');
  rig.agents.delete(third);
  assert.equal(rig.bed.sampler.current().split_brain_samples, 0, `two writable servers before the hand promotion: ${rig.bed.sampler.current().examples.join(', ')}`);
  // From here two servers are writable by the operator's hand: the sampler's report says so.
  rig.bed.sampler.note({ split_brain_accepted: true });
  rig.bed.splitBrain = 'allow';
  const promoted = await sqlOn(node, 'SELECT pg_promote(true, 30)');
  assert.deepEqual([promoted.ok, promoted.out], [true, 't'], `pg_promote on ${third}: ${promoted.out}`);
  assert.deepEqual(await writableNodes(rig.bed.cluster), [k.elected, third].sort(), 'two writable servers before ctl-c');
  k.mark(`${third} promoted by hand`);
  k.unfreeze();
  const ctl = await recovering(k, 'ctl-c');

  const history = await getJson<Entry[]>(ctl, '/failover_history');
  const recovery = recoveryOf(history);
  assert.equal(recovery.outcome, 'FAIL', JSON.stringify(recovery));
  assert.match(recovery.details, /several servers were promoted or accept writes/, recovery.details);
  assert.ok(recovery.details.includes(k.elected) && recovery.details.includes(third), recovery.details);
  assert.equal(recovery.recovers, 'adoption');
  // Nothing after the check that refused: no fence, no re-point, no command.
  assert.deepEqual(recovery.steps.filter((s) => s.outcome !== 'skipped'), [], JSON.stringify(recovery.steps));
  const cluster = await getJson<{ status: string; status_message: string }>(ctl, '/get_cluster_status');
  assert.equal(cluster.status, 'down', JSON.stringify(cluster));

  // The book: at most one enabled master, never the hand-promoted server; still so a few failover
  // checks later. Which one the saved book holds is a race the refusal keeps as it found it ("book
  // kept"): the `adopt` step journals ok once the book changed in memory, and its saves (john
  // replaced, then the adopted master) may or may not have landed before the kill: john, nobody,
  // or the adopted master were all seen.
  await new Promise((r) => setTimeout(r, 4000));
  const status = await getJson<AdoptStatus>(ctl, '/get_status');
  const masters = enabledMasters(status);
  assert.ok(masters.length <= 1 && masters.every((n) => n === 'john' || n === k.elected), `book masters ${JSON.stringify(status.servers)}`);
  k.mark(`the book's enabled masters: [${masters.join(', ')}]`);
  const later = await getJson<Entry[]>(ctl, '/failover_history');
  // With john still the book's master, each failover check tries a failover of him and refuses
  // (no candidate: both answer writable; john not restarted: a second master): FAIL entries only.
  const byController = later.filter((h) => !['adoption', 'recovery'].includes(h.kind) && !AGENTS_ENTRY_ID.test(h.id));
  assert.deepEqual(byController.filter((h) => h.outcome !== 'FAIL' || h.steps.some((st) => st.name === 'promote')), [], 'no failover by a controller');
  // The same refusal at every check (a poll a second) is one episode: kept once, not once a check.
  assert.ok(byController.length <= 1, `one refusal entry per episode: ${byController.map((h) => `${h.outcome} ${h.details}`).join(' | ')}`);
  // Never re-pointed to the hand-promoted server. (The file names john or the adopted master: ctl-b's
  // connection_failover writes it before the RELOAD that hangs on the frozen pgbouncer; a session
  // through pgbouncer would wait on john, lost, for its query_wait_timeout.)
  const routes = readFileSync(bouncer.databasesFile, 'utf8');
  assert.doesNotMatch(routes, new RegExp(`host=${node.host.replaceAll('.', '\\.')} `), routes);
  // Nobody stopped or demoted either server: the operator decides.
  assert.deepEqual(await writableNodes(rig.bed.cluster), [k.elected, third].sort());
  k.mark('checked');
});

scenario('(b) the adopted master lost before the roll-forward → rolled forward to it (the journal proves it), then failed over to the replica holding its acknowledged write', 'ha-rollforward-lost', async (k) => {
  const { rig } = k.opened;
  const third = thirdOf(k);
  const elected = rig.bed.node(k.elected);
  await ackedWrite(k, third);
  // Lost right after ctl-b (well within its leader lease): ctl-c leads only after that lease. The
  // remaining replica's agent is held (SIGSTOP) until ctl-c leads: the agents elect once no
  // controller has led for etcd.ttl, and a controller starting slower than that on a loaded machine
  // would meet a new agents' election (another case) instead of the lost adopted master.
  await killHost(electionView(rig), elected);
  k.mark(`${k.elected} host lost`);
  const held = rig.agents.get(third)?.child.pid;
  assert.ok(held !== undefined, `${third}'s agent`);
  signal(held, 'SIGSTOP');
  k.unfreeze();
  let ctl: Controller;
  try {
    ctl = await recovering(k, 'ctl-c');
  } finally {
    signal(held, 'SIGCONT');
  }

  let history = await getJson<Entry[]>(ctl, '/failover_history');
  const recovery = recoveryOf(history);
  assert.deepEqual([recovery.outcome, recovery.to, recovery.recovers], ['SUCCESS', k.elected, 'adoption'], JSON.stringify(recovery));
  // john, his host lost under agent_lease: fenced for sure (his port refuses, his agent's lease is gone).
  assert.equal(recovery.fence, 'confirmed', JSON.stringify(recovery));
  assert.deepEqual(
    recovery.steps.map((st) => `${st.name}${st.server === null ? '' : ` ${st.server}`} ${st.outcome}`),
    [`connection_failover ${k.elected} ok`, 'extra_command:note ok'],
    JSON.stringify(recovery.steps),
  );

  // Then the adopted master is judged like any master: lost (no answer, its agent's lease gone), failed over.
  await waitUntil(async () => {
    history = await getJson<Entry[]>(ctl, '/failover_history');
    return history.some((h) => h.kind === 'failover' && h.outcome === 'SUCCESS' && !AGENTS_ENTRY_ID.test(h.id));
  }, `a failover from the lost ${k.elected}`, 40_000);
  k.mark('failed over');
  const failover = history.find((h) => h.kind === 'failover' && !AGENTS_ENTRY_ID.test(h.id)) as Entry;
  assert.deepEqual([failover.from, failover.to], [k.elected, third], JSON.stringify(failover));
  assert.deepEqual(history.filter((h) => AGENTS_ENTRY_ID.test(h.id) && h.to === third), [], `no agents' election of ${third}: the controller failed over`);
  await endsOn(k, ctl, third);
  k.mark('checked');
});

scenario("(b2) the adopted master lost and the agents elect again before a controller leads → the recovery refuses (the proven adoption and the new master), the takeover then adopts the agents' new election", 'ha-rollforward-reelected', async (k) => {
  const { rig } = k.opened;
  const third = thirdOf(k);
  await ackedWrite(k, third);
  await killHost(electionView(rig), rig.bed.node(k.elected));
  k.mark(`${k.elected} host lost`);
  k.unfreeze();
  await waitUntil(async () => {
    const key = await readKeyJson(rig.client, `${rig.prefix}master`);
    return key?.['name'] === third && key['written_by'] === `agent:${third}` && typeof key['timeline'] === 'number';
  }, `the agents elected ${third} (confirmed)`, 40_000);
  k.mark(`${third} elected`);
  const ctl = await recovering(k, 'ctl-c');
  // The journal proves the adoption of the lost master and another server is writable: the rule's
  // split brain (engine/roll-forward.ts); nothing is chosen from the journal. The takeover's own
  // adoption then reads the agents' key and lease and adopts the new election (verified path).
  let history: Entry[] = [];
  await waitUntil(async () => {
    history = await getJson<Entry[]>(ctl, '/failover_history');
    return history.some((h) => h.kind === 'adoption' && h.outcome === 'SUCCESS');
  }, `ctl-c adopts ${third}`, 30_000);
  k.mark(`${third} adopted`);
  const recovery = recoveryOf(history);
  assert.equal(recovery.outcome, 'FAIL', JSON.stringify(recovery));
  assert.match(recovery.details, new RegExp(`several servers were promoted or accept writes \\((${third}, ${k.elected}|${k.elected}, ${third})\\)`), recovery.details);
  const adopted = history.find((h) => h.kind === 'adoption' && h.outcome === 'SUCCESS') as Entry;
  assert.equal(adopted.to, third, JSON.stringify(adopted));
  assert.ok(history.indexOf(adopted) < history.indexOf(recovery), 'adopted after the refused recovery (newest first)');
  assert.deepEqual(history.filter((h) => !['adoption', 'recovery'].includes(h.kind) && !AGENTS_ENTRY_ID.test(h.id)), [], 'no failover by a controller');
  await endsOn(k, ctl, third);
  k.mark('checked');
});

after(cleanupAll);

/** SIGKILLs `controller` once the file journal shows a `kind` change running `step`; returns the journal then. */
async function killWhenRunning(bed: Bed, controller: ChildController, kind: string, step: string): Promise<FailoverRecord> {
  const deadline = Date.now() + 60_000;
  const seen: string[] = [];
  while (Date.now() < deadline) {
    const record = readJournalFile(bed);
    const last = record?.steps.at(-1);
    if (record && last) {
      const label = `${record.kind}:${last.name}:${last.outcome}`;
      if (seen.at(-1) !== label) seen.push(label);
      if (record.kind === kind && last.name === step && last.outcome === 'running') {
        controller.child.kill('SIGKILL');
        await within(controller.exited, 10_000, 'the SIGKILLed controller to exit');
        return readJournalFile(bed) ?? record;
      }
    }
    await new Promise((r) => setImmediate(r));
  }
  controller.child.kill('SIGKILL');
  throw new Error(`never saw ${kind}'s ${step} running; journal seen: ${seen.join(' → ')}\n${controller.output().slice(-3000)}`);
}

test("(c) a failover's recovery SIGKILLed during its own remaster, the promoted master not answering at the next start → recovered to it as a failover: no second promotion, one writable server", { timeout: 110_000 }, async () => {
  const bed = await openBed({ label: 'ha-rollforward-recovery' });
  let frozenNode: string | null = null;
  try {
    await seedAckedRows(bed);
    await crash(bed.node('john'));
    let inRecovery: FailoverRecord | null = null;
    const outcome = await killAndRecover(bed, { mode: 'failover' }, 'remaster', {
      afterKill: async () => {
        // A second controller recovers the failover and is killed during its recovery's remaster.
        inRecovery = await killWhenRunning(bed, spawnController(bed.configPath, 'failover'), 'recovery', 'remaster');
        // The promoted master then does not answer (frozen): only the killed recovery's journal
        // says it is the master (journalProvenTarget). Without that, the next start would find
        // nobody writable, put john back, judge him lost and promote a second master.
        const promoted = inRecovery.to;
        assert.ok(promoted !== null && promoted !== 'john', `the recovery's target: ${JSON.stringify(inRecovery)}`);
        freeze(bed.node(promoted));
        frozenNode = promoted;
      },
      afterRecovery: async () => {
        if (frozenNode !== null) thaw(bed.node(frozenNode));
        frozenNode = null;
      },
    });
    const killed = inRecovery as FailoverRecord | null;
    assert.ok(killed !== null);
    assert.equal(outcome.atKill.kind, 'failover');
    assert.deepEqual([killed.kind, killed.recovers, killed.to], ['recovery', 'failover', outcome.atKill.to], JSON.stringify(killed));
    // killAndRecover checked: one writable server, the book's only enabled master, no journal left.
    assert.equal(outcome.master, outcome.atKill.to, 'the replica the failover promoted stays the master');
    const recoveries = outcome.history.filter((h) => h.kind === 'recovery');
    assert.equal(recoveries.length, 2, outcome.history.map((h) => `${h.kind} ${h.outcome}: ${h.details}`).join(' | '));
    const first = recoveries.find((h) => h.id === killed.id);
    assert.equal(first?.outcome, 'FAIL');
    assert.match(first?.details ?? '', /interrupted during step remaster/);
    const last = recoveries.find((h) => h.id !== killed.id) as FailoverRecord;
    assert.deepEqual([last.outcome, last.to, last.recovers], ['SUCCESS', outcome.master, 'failover'], `${last.outcome}: ${last.details}`);
    // No second promotion anywhere after the failover's own.
    assert.deepEqual(outcome.history.filter((h) => h.kind !== 'failover').flatMap((h) => h.steps.filter((st) => st.name === 'promote')), []);
    assert.equal(outcome.history.filter((h) => h.kind === 'failover').length, 1, 'one failover');
    assert.equal(await nodeState(bed.node('john')), 'no answer', 'the crashed old master stays down');
    await assertRowsOn(bed, outcome.master, 'acked', 1000);
    console.log(`# failover killed at remaster, its recovery killed at remaster, recovered to ${outcome.master}: ${last.details}`);
  } finally {
    if (frozenNode !== null) thaw(bed.node(frozenNode));
    await closeBed(bed);
  }
});
