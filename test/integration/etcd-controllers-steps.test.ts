/**
 * The leading controller SIGKILLed at each journaled step of a failover (loop over the plan of
 * the step table: revalidate, select, fence, promote, remaster) and of a switchover (stop_master,
 * final_checkpoint, wait_replay, promote, remaster, rejoin), with real etcd and PostgreSQL:
 * the other controller takes over, reads the journal from etcd and finishes or rolls back by the
 * failover-correctness rules. Afterwards exactly one server accepts writes, the `master` key
 * names it, never two writable servers at any 50 ms sample (closeBed), and no acknowledged row
 * is lost.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { crash } from '../fixtures/faults.js';
import { cleanupAll, closeBed, openBed, sqlOn, waitUntil, writableNodes } from '../fixtures/chaos.js';
import { startEtcdCluster } from '../fixtures/etcd.js';
import { basic, http } from '../fixtures/daemon.js';
import { ADMIN, etcdClient, leaders, monitorCycles, prefixOf, readKeyJson, startController, type Controller } from '../fixtures/etcd-controllers.js';

after(cleanupAll);

type Mode = 'failover' | 'switchover';
const CASES: readonly (readonly [Mode, string])[] = [
  ...(['revalidate', 'select', 'fence', 'promote', 'remaster'] as const).map((step) => ['failover', step] as const),
  ...(['stop_master', 'final_checkpoint', 'wait_replay', 'promote', 'remaster', 'rejoin'] as const).map((step) => ['switchover', step] as const),
];
const ACKED = 200;

for (const [mode, step] of CASES) {
  test(`leader SIGKILLed at ${mode} step ${step}: the other controller finishes or rolls back; one master, nothing acknowledged lost`, { timeout: 180_000 }, async () => {
    const bed = await openBed({ label: `etcd controllers: leader killed at ${mode} ${step}`, expect: 'failover', open: false });
    const etcd = await startEtcdCluster({ members: 3 });
    const controllers: Controller[] = [];
    const client = etcdClient(etcd);
    try {
      controllers.push(await startController(bed, etcd, 'ctl-a'));
      controllers.push(await startController(bed, etcd, 'ctl-b'));
      await waitUntil(async () => (await leaders(controllers)).length === 1, 'one controller leads', 30_000);
      const [leader] = await leaders(controllers);
      assert.ok(leader);
      const follower = controllers.find((c) => c !== leader) as Controller;
      await waitUntil(async () => (await monitorCycles(leader)) > 1, 'the leader monitors', 30_000);
      // Acknowledged rows, replayed by every replica before the master dies (asynchronous
      // replication loses unreplayed commits on a crash whoever controls: not this test's subject).
      const john = bed.node('john');
      const insert = await sqlOn(john, `CREATE TABLE acked (i int); INSERT INTO acked SELECT generate_series(1, ${ACKED}); SELECT 1`);
      assert.ok(insert.ok, insert.out);
      for (const node of bed.cluster.nodes.filter((n) => n.name !== 'john')) {
        await waitUntil(async () => (await sqlOn(node, 'SELECT count(*) FROM acked')).out === String(ACKED), `${node.name} replayed the acknowledged rows`, 20_000);
      }
      if (mode === 'failover') await crash(john);
      // The switchover runs on the leader; its reply is lost with it.
      else void http(leader.daemon.url, '/manual_failover?newmaster=paul', { method: 'POST', headers: { authorization: basic(ADMIN) } }).catch(() => undefined);
      // Kill the leader the moment the etcd journal shows the step running (a watch sees every
      // journal write; polling misses steps that take a few milliseconds).
      const journalKey = `${prefixOf(bed)}journal`;
      const seen: string[] = [];
      const watcher = await client.watch().key(journalKey).create();
      const killed = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), 60_000);
        watcher.on('put', (kv) => {
          const journal = JSON.parse(kv.value.toString()) as { steps?: { name: string; outcome: string }[] };
          const last = journal.steps?.at(-1);
          if (!last) return;
          seen.push(`${last.name}:${last.outcome}`);
          if (last.name === step && last.outcome === 'running') {
            clearTimeout(timer);
            process.kill(leader.daemon.pid, 'SIGKILL');
            resolve(true);
          }
        });
      });
      await watcher.cancel();
      await leader.daemon.stop('SIGKILL');
      assert.ok(killed, `never saw ${mode} step ${step} running; journal steps seen: ${seen.join(' → ')}\n${leader.daemon.stderr().slice(-3000)}`);
      controllers.splice(controllers.indexOf(leader), 1);
      // The other controller takes over and finishes or rolls back: one writable server, named by the master key.
      await waitUntil(async () => (await leaders([follower])).length === 1, 'the other controller leads', 30_000);
      await waitUntil(async () => {
        const writable = await writableNodes(bed.cluster);
        const key = await readKeyJson(client, `${prefixOf(bed)}master`).catch(() => null);
        const journal = await readKeyJson(client, journalKey).catch(() => null);
        return writable.length === 1 && key?.['name'] === writable[0] && journal === null;
      }, `one writable server named by the master key, journal recovered (killed at ${mode} ${step}; seen ${seen.join(' → ')})`, 90_000, 500);
      const [master] = await writableNodes(bed.cluster);
      const count = await bed.countAcked(master as string, 'acked', ACKED);
      assert.ok(count >= ACKED, `${count} of ${ACKED} acknowledged rows on ${String(master)}`);
    } catch (err) {
      const stories = controllers.map((c) => `--- ${c.name}:\n${c.daemon.stderr().slice(-4000)}`).join('\n');
      throw new Error(`${(err as Error).message}\n${stories}`, { cause: err });
    } finally {
      client.close();
      for (const c of controllers) await c.daemon.stop('SIGTERM').catch(() => undefined);
      await etcd.stop();
      await closeBed(bed);
    }
  });
}
