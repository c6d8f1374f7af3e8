/**
 * Issue 14, deployment `ha`: a controller that starts leading after an agents' election adopts the
 * agents' master (src/runtime/topology/adopt-agents-master.ts). Real etcd, three real PostgreSQL
 * nodes, a real agent per node (deployment ha), a controller daemon under etcd_lease:
 *   1. ctl-a leads and seeds the master key (john); john's agent takes its master lease;
 *   2. ctl-a is stopped (no controller leads), then john's host is lost (agent and PostgreSQL
 *      SIGKILLed): after ttl without a leader and john's lease expired, the agents elect a replica;
 *   3. ctl-b starts (same etcd store: its book still names john) → its book names the elected node
 *      as master, john fenced, an `adoption` history entry beside the agents' own failover entry;
 *      no failover by the controller, the master key untouched, the elected node not in warning;
 *   4. what a failover does after its promotion and the agents' election does not: a real pgbouncer
 *      (pointed at john by ctl-a) routes to the elected node, and an extra_failover_command (a
 *      local_command writing a file) ran, each a step of the adoption entry.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { after, describe, it } from 'node:test';
import { sleep, waitUntil } from '../fixtures/chaos.js';
import { leaders } from '../fixtures/etcd-controllers.js';
import { AGENTS_ENTRY_ID, closeAdoptRig, electedWithoutController, getJson, openBouncerRig, startAdoptController, withLogs, type AdoptEntry, type AdoptRig, type AdoptStatus } from '../fixtures/ha-adopt.js';

describe("a controller leading after an agents' election adopts the agents' master", { timeout: 300_000 }, () => {
  let rig: AdoptRig | null = null;

  after(async () => {
    await closeAdoptRig(rig);
  });

  it('john lost while no controller leads → agents elect; ctl-b then names the elected node master, fences john, no failover', async () => {
    const opened = await openBouncerRig('ha-adopt-agents-master', (r) => (rig = r));
    const current = opened.rig;
    const { client, prefix } = current;
    const { bouncer: proxy, marker } = opened;
    try {
      const elected = await electedWithoutController(opened);
      const keyBefore = await client.get(`${prefix}master`).string();

      const ctlB = await startAdoptController(current, 'ctl-b', opened.controller);
      await waitUntil(async () => (await leaders([ctlB])).length === 1, 'ctl-b leads', 30_000);
      await waitUntil(async () => (await getJson<AdoptStatus>(ctlB, '/get_status')).servers[elected]?.role === 'master', `ctl-b's book names ${elected} master`, 30_000);
      // Several monitor cycles (1 s polls): nothing may fight the adopted master.
      await sleep(6000);
      const status = await getJson<AdoptStatus>(ctlB, '/get_status');
      const named = status.servers[elected];
      assert.equal(named?.role, 'master');
      assert.equal(named?.enabled, true);
      assert.doesNotMatch(named?.status_message ?? '', /not in recovery/, `${elected} is not warned about as a replica`);
      assert.equal(status.servers['john']?.enabled, false, 'john is taken out of the book (fenced)');
      assert.equal(status.servers['john']?.role, 'replica');
      const history = await getJson<AdoptEntry[]>(ctlB, '/failover_history');
      const adoption = history.filter((h) => h.kind === 'adoption');
      assert.equal(adoption.length, 1, JSON.stringify(history));
      assert.equal(adoption[0]?.from, 'john');
      assert.equal(adoption[0]?.to, elected);
      assert.match(adoption[0]?.details ?? '', /^adopted after the agents' election/);
      const agentsEntry = history.find((h) => h.kind === 'failover' && AGENTS_ENTRY_ID.test(h.id));
      assert.ok(agentsEntry, "the agents' own failover entry is in the history");
      assert.match(adoption[0]?.details ?? '', new RegExp(`the agents' own entry: ${agentsEntry.id}`));
      assert.deepEqual(history.filter((h) => h.kind !== 'adoption' && !AGENTS_ENTRY_ID.test(h.id)), [], 'no change by the controller (no failover of the adopted master)');
      assert.equal(await client.get(`${prefix}master`).string(), keyBefore, 'the master key is left as the agents wrote it');
      // What the agents' election did not do, the adoption did, each its own step.
      const steps = adoption[0]?.steps.map((st) => `${st.name}${st.server === null ? '' : ` ${st.server}`} ${st.outcome}`) ?? [];
      assert.deepEqual(steps, [`adopt ${elected} ok`, `connection_failover ${elected} ok`, 'extra_command:note ok'], JSON.stringify(adoption[0]?.steps));
      const routed = await proxy.query('postgres');
      assert.deepEqual([routed.addr, routed.in_recovery], [current.bed.node(elected).host, false], `pgbouncer routes to the adopted master ${elected}`);
      assert.ok(existsSync(marker), 'the extra_failover_command ran');
      assert.equal(readFileSync(marker, 'utf8').trim(), `${elected} from john`);
    } catch (err) {
      throw withLogs(current, err);
    }
  });
});
