/**
 * Issue 14, deployment `ha`: the adoption reached from a running controller's failover check, not
 * at its takeover, after waiting while the agents' promotion was in flight. Real etcd, three real
 * PostgreSQL nodes, a real agent per node, controller daemons under etcd_lease with
 * `unreachable_master: agent_lease` (john's lease gone is itself grounds for a failover):
 *   1. ctl-a leads and seeds the master key (john); john's agent takes its master lease; ctl-a is
 *      stopped (no controller leads);
 *   2. both replicas' startup processes are stopped (SIGSTOP), then john's host is lost: the agents
 *      elect, the winner writes its take and asks PostgreSQL to promote, which cannot finish (its
 *      agent keeps renewing its master lease meanwhile) — the take stays unconfirmed (no timeline);
 *   3. ctl-b starts leading: its takeover finds the take unconfirmed and adopts nothing; its
 *      failover checks find john failed and do not judge it (promotion_in_flight) for several
 *      cycles: the book still names john, no failover (none failed either) is recorded;
 *   4. the winner's startup process resumes: the promotion completes, its agent confirms the take,
 *      and ctl-b's next failover check adopts it: one `adoption` entry, no controller failover.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { killHost } from '../fixtures/agents-election.js';
import { instanceProcess, waitUntil } from '../fixtures/chaos.js';
import { leaders, monitorCycles, readKeyJson } from '../fixtures/etcd-controllers.js';
import { AGENTS_ENTRY_ID, closeAdoptRig, electionView, getJson, openAdoptRig, startAdoptAgents, startAdoptController, withLogs, type AdoptEntry, type AdoptRig, type AdoptStatus } from '../fixtures/ha-adopt.js';
import { signal } from '../fixtures/proc.js';

describe("a running controller's failover check waits for an agents' promotion in flight, then adopts it", { timeout: 240_000 }, () => {
  let rig: AdoptRig | null = null;
  let held: number[] = [];

  after(async () => {
    for (const pid of held) signal(pid, 'SIGCONT');
    await closeAdoptRig(rig);
  });

  it('take unconfirmed at takeover → no judgement of john while in flight → adopted by a failover check once confirmed', async () => {
    const opened = await openAdoptRig('ha-adopt-agents-inflight', async () => ({ failover: { unreachable_master: 'agent_lease', auto_rejoin: false } }), (r) => (rig = r));
    const current = opened.rig;
    const { client, prefix } = current;
    try {
      await startAdoptAgents(current);
      await opened.ctlA.daemon.stop('SIGTERM');
      const startup = new Map(['paul', 'george'].map((name) => [name, instanceProcess(current.bed.node(name), /startup/)]));
      assert.ok([...startup.values()].every((pid) => pid !== null), `both replicas have a startup process: ${JSON.stringify([...startup])}`);
      held = [...startup.values()] as number[];
      for (const pid of held) signal(pid, 'SIGSTOP');
      await killHost(electionView(current), current.bed.node('john'));

      let elected = '';
      await waitUntil(async () => {
        const record = await readKeyJson(client, `${prefix}master`);
        if (record === null || record['name'] === 'john' || record['written_by'] !== `agent:${String(record['name'])}`) return false;
        elected = String(record['name']);
        return true;
      }, "the agents' take", 60_000);
      // The loser follows the winner once confirmed: its replay may go on.
      const winnerStartup = startup.get(elected) as number;
      for (const pid of held.filter((p) => p !== winnerStartup)) signal(pid, 'SIGCONT');
      held = [winnerStartup];
      assert.equal((await readKeyJson(client, `${prefix}master`))?.['timeline'] ?? null, null, 'the take is not confirmed while its promotion is held');

      const ctlB = await startAdoptController(current, 'ctl-b', opened.controller);
      await waitUntil(async () => (await leaders([ctlB])).length === 1, 'ctl-b leads', 30_000);
      const log = join(current.bed.cluster.root, 'ctl-b.log');
      await waitUntil(async () => /agents' master: .*not confirmed yet/.test(readFileSync(log, 'utf8')), "ctl-b's takeover found the take unconfirmed", 30_000);
      const cycles = await monitorCycles(ctlB);
      // Failover checks that find john failed (under agent_lease his lease is gone: without the wait each would fail him over).
      await waitUntil(async () => (await monitorCycles(ctlB)) >= cycles + 3, 'three failover checks while the promotion is held', 30_000);
      const during = await getJson<AdoptStatus>(ctlB, '/get_status');
      assert.equal(during.servers['john']?.role, 'master', 'john is not judged, nor replaced, while the take is in flight');
      assert.equal(during.servers[elected]?.role, 'replica');
      const historyDuring = await getJson<AdoptEntry[]>(ctlB, '/failover_history');
      assert.deepEqual(historyDuring.filter((h) => !AGENTS_ENTRY_ID.test(h.id)), [], 'nothing recorded by ctl-b while waiting (no failover, no failed one)');
      assert.equal((await readKeyJson(client, `${prefix}master`))?.['timeline'] ?? null, null, 'still unconfirmed: the wait was observed in flight');

      signal(winnerStartup, 'SIGCONT');
      held = [];
      await waitUntil(async () => typeof (await readKeyJson(client, `${prefix}master`))?.['timeline'] === 'number', `${elected}'s agent confirms its take`, 60_000);
      await waitUntil(async () => (await getJson<AdoptStatus>(ctlB, '/get_status')).servers[elected]?.role === 'master', `a failover check of ctl-b adopts ${elected}`, 30_000);
      // The entry is written when the adoption's last step ended (the book names the master at its first).
      await waitUntil(async () => (await getJson<AdoptEntry[]>(ctlB, '/failover_history')).some((h) => h.kind === 'adoption'), 'the adoption entry', 30_000);
      const history = await getJson<AdoptEntry[]>(ctlB, '/failover_history');
      const adoption = history.filter((h) => h.kind === 'adoption');
      assert.equal(adoption.length, 1, JSON.stringify(history));
      assert.deepEqual([adoption[0]?.from, adoption[0]?.to, adoption[0]?.outcome], ['john', elected, 'SUCCESS']);
      assert.deepEqual(history.filter((h) => h.kind !== 'adoption' && !AGENTS_ENTRY_ID.test(h.id)), [], 'no failover by ctl-b, failed or not');
      const status = await getJson<AdoptStatus>(ctlB, '/get_status');
      assert.equal(status.servers['john']?.enabled, false, 'john fenced');
    } catch (err) {
      throw withLogs(current, err);
    }
  });
});
