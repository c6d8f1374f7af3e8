/**
 * Issue 14, deployment `ha` under `synchronous_mode: on` (controllers and agents): the set a
 * controller records when it adopts an agents' master (src/runtime/sync/adoption-sync.ts), with real
 * synchronous standbys. Real etcd, three real PostgreSQL nodes, a real agent per node:
 *   1. ctl-a leads, seeds the master key (john) and records a set for john with a quorum (both
 *      replicas streaming); ctl-a is stopped, john's host is lost: the agents elect a member of it;
 *   2. ctl-b starts and adopts the elected node: the set recorded for it names the other replica
 *      (not john), quorum 0 (nothing promised before its standbys caught up with the new master);
 *   3. once the other replica streams from the adopted master, ctl-b's sync maintenance records a
 *      quorum for it and names the standby in its synchronous_standby_names.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { killHost } from '../fixtures/agents-election.js';
import { waitUntil } from '../fixtures/chaos.js';
import { leaders, readKeyJson } from '../fixtures/etcd-controllers.js';
import { closeAdoptRig, confirmedTake, electionView, getJson, openAdoptRig, startAdoptAgents, startAdoptController, withLogs, type AdoptEntry, type AdoptRig, type AdoptStatus } from '../fixtures/ha-adopt.js';

interface Recorded {
  members: string[];
  quorum: number;
  master: string | null;
  reason: string;
}

/** The synchronous set recorded in the etcd `cluster` key, and its history (oldest first). */
async function recorded(rig: AdoptRig): Promise<{ sync: Recorded | null; history: Recorded[] }> {
  const state = await readKeyJson(rig.client, `${rig.prefix}cluster`);
  return { sync: (state?.['sync'] as Recorded | undefined) ?? null, history: (state?.['sync_history'] as Recorded[] | undefined) ?? [] };
}

describe("adopting an agents' master under synchronous_mode: quorum 0 first, a quorum once its standby caught up", { timeout: 240_000 }, () => {
  let rig: AdoptRig | null = null;

  after(async () => {
    await closeAdoptRig(rig);
  });

  it("the set recorded at the adoption names the adopted master with quorum 0, then a quorum with the standby named", async () => {
    const sync = { synchronous_mode: 'on' };
    const opened = await openAdoptRig('ha-adopt-agents-sync', async () => ({ failover: { unreachable_master: 'agent_lease', auto_rejoin: false, ...sync } }), (r) => (rig = r), sync);
    const current = opened.rig;
    try {
      await waitUntil(async () => {
        const s = (await recorded(current)).sync;
        return s?.master === 'john' && s.quorum >= 1 && s.members.length === 2;
      }, "ctl-a records john's set with a quorum (both replicas)", 60_000);
      await startAdoptAgents(current);
      await opened.ctlA.daemon.stop('SIGTERM');
      await killHost(electionView(current), current.bed.node('john'));
      const elected = await confirmedTake(current);
      const other = elected === 'paul' ? 'george' : 'paul';

      const ctlB = await startAdoptController(current, 'ctl-b', opened.controller);
      await waitUntil(async () => (await leaders([ctlB])).length === 1, 'ctl-b leads', 30_000);
      await waitUntil(async () => (await getJson<AdoptStatus>(ctlB, '/get_status')).servers[elected]?.role === 'master', `ctl-b's book names ${elected} master`, 30_000);
      // The entry is written when the adoption's last step ended (the book names the master at its first).
      await waitUntil(async () => (await getJson<AdoptEntry[]>(ctlB, '/failover_history')).some((h) => h.kind === 'adoption'), 'the adoption entry', 30_000);
      const history = await getJson<AdoptEntry[]>(ctlB, '/failover_history');
      assert.equal(history.filter((h) => h.kind === 'adoption').length, 1, JSON.stringify(history));
      const atAdoption = (await recorded(current)).history.find((r) => r.master === elected && /^adopted /.test(r.reason));
      assert.ok(atAdoption, `a set recorded at the adoption: ${JSON.stringify((await recorded(current)).history)}`);
      assert.deepEqual([atAdoption.members, atAdoption.quorum], [[other], 0], "the adoption's set: the other replica (not john), nothing promised yet");

      await waitUntil(async () => {
        const s = (await recorded(current)).sync;
        return s?.master === elected && s.quorum >= 1;
      }, `ctl-b records a quorum for ${elected} once ${other} caught up`, 90_000);
      const last = (await recorded(current)).sync as Recorded;
      assert.deepEqual(last.members, [other], JSON.stringify(last));
      const names = await current.bed.cluster.psql(current.bed.node(elected), 'SHOW synchronous_standby_names');
      assert.match(names, new RegExp(other), `${elected} names ${other} synchronous: ${names}`);
      const hist = (await recorded(current)).history;
      const zeroAt = hist.findIndex((r) => r.master === elected && /^adopted /.test(r.reason));
      const quorumAt = hist.findIndex((r) => r.master === elected && r.quorum >= 1);
      assert.ok(zeroAt >= 0 && quorumAt > zeroAt, `quorum 0 first, then the quorum: ${JSON.stringify(hist)}`);
    } catch (err) {
      throw withLogs(current, err);
    }
  });
});
