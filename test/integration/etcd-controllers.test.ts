/**
 * Two HandyRep daemons under etcd_lease (real etcd, 3 members; real PostgreSQL): exactly one
 * leads and monitors; the follower mirrors the store, names the leader and refuses mutating calls
 * (503); the leader SIGKILLed → the other leads within ttl + a few seconds, and a healthy master
 * stays master (no failover). A crashed master is failed over by the leader, and the `master`
 * key already names the new master at the first moment it accepts a write.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { EXIT } from '../../src/cli/exit-codes.js';
import { crash } from '../fixtures/faults.js';
import { cleanupAll, closeBed, openBed, sqlOn, waitUntil, writableNodes } from '../fixtures/chaos.js';
import { basic, freePort, http, spawnHandyrep } from '../fixtures/daemon.js';
import { startEtcdCluster } from '../fixtures/etcd.js';
import { ADMIN, controllerConfig, withControllers, etcdClient, leaders, leadershipOf, monitorCycles, prefixOf, readKeyJson, startController, stopControllers, TTL_SECONDS, type Controller } from '../fixtures/etcd-controllers.js';
import type { FailoverRecord } from '../../src/model/failover-record.js';

after(cleanupAll);

async function historyOf(c: Controller): Promise<FailoverRecord[]> {
  const reply = await http(c.daemon.url, '/failover_history?numentries=10', { headers: { authorization: basic(ADMIN) } });
  return reply.json as FailoverRecord[];
}

function story(controllers: readonly Controller[]): string {
  return controllers.map((c) => `--- ${c.name} stderr:\n${c.daemon.stderr().slice(-3000)}`).join('\n');
}

test('two controllers: one leads, the follower mirrors and refuses; the leader SIGKILLed → the other leads, the healthy master stays', { timeout: 240_000 }, async () => {
  await withControllers('etcd controllers: takeover without failover', async (bed, etcd, controllers) => {
    await waitUntil(async () => (await leaders(controllers)).length === 1, 'one controller leads', 30_000);
    const [leader] = await leaders(controllers);
    assert.ok(leader);
    const follower = controllers.find((c) => c !== leader) as Controller;
    await waitUntil(async () => (await monitorCycles(leader)) > 1, 'the leader monitors', 30_000);
    // Only one acts: the follower's monitor never runs.
    assert.equal(await monitorCycles(follower), 0, story(controllers));
    await waitUntil(async () => (await leadershipOf(follower))?.leader_url === `${leader.daemon.url}/`, 'the follower names the leader and its URL', 15_000);
    const lead = await leadershipOf(follower);
    assert.equal(lead?.leading, false);
    assert.equal(lead?.stale, false, JSON.stringify(lead));
    // The follower answers reads from the store: the same master, and statuses the leader wrote.
    const status = await http(follower.daemon.url, '/get_status', { headers: { authorization: basic(ADMIN) } });
    assert.equal(status.status, 200);
    const report = status.json as { servers: Record<string, { role: string; status: string }>; leadership: { leader: string } };
    assert.equal(report.servers['john']?.role, 'master');
    await waitUntil(async () => {
      const r = (await http(follower.daemon.url, '/get_status', { headers: { authorization: basic(ADMIN) } })).json as typeof report;
      return r.servers['john']?.status === 'healthy';
    }, 'the follower shows the statuses the leader stored', 15_000);
    // A mutating call on the follower: 503 naming the leader, nothing done.
    const pause = await http(follower.daemon.url, '/pause', { method: 'POST', headers: { authorization: basic(ADMIN) } });
    assert.equal(pause.status, 503, JSON.stringify(pause.json));
    assert.match(JSON.stringify(pause.json), new RegExp(leader.daemon.url.replace(/[.:/]/g, '.')));
    // /primary on the follower answers from fresh data.
    assert.equal((await http(follower.daemon.url, '/primary/john')).status, 200);

    // The master key was seeded with the verified master.
    const client = etcdClient(etcd);
    try {
      const master = await readKeyJson(client, `${prefixOf(bed)}master`);
      assert.equal(master?.['name'], 'john', JSON.stringify(master));
      assert.equal(typeof master?.['timeline'], 'number');
      assert.equal(master?.['promoted_lsn'], null);
    } finally {
      client.close();
    }

    // SIGKILL the leader: the follower takes over within ttl + a margin for a loaded machine.
    const killedAt = Date.now();
    await leader.daemon.stop('SIGKILL');
    await waitUntil(async () => (await leadershipOf(follower))?.leading === true, 'the follower leads', (TTL_SECONDS + 10) * 1000, 100);
    const takeoverMs = Date.now() - killedAt;
    assert.ok(takeoverMs <= (TTL_SECONDS + 10) * 1000, `takeover in ${takeoverMs} ms`);
    await waitUntil(async () => (await monitorCycles(follower)) > 2, 'the new leader monitors', 30_000);
    // No failover: john is still the only writable server, and nothing was recorded.
    assert.deepEqual(await writableNodes(bed.cluster), ['john'], story(controllers));
    assert.deepEqual((await historyOf(follower)).filter((r) => r.kind === 'failover'), [], story(controllers));
    const history = await http(follower.daemon.url, '/get_controller_history', { headers: { authorization: basic(ADMIN) } });
    const entries = history.json as { controller_id: string; event: string }[];
    assert.ok(entries.filter((e) => e.event === 'leading').length >= 2, JSON.stringify(entries));
    // Remove the killed one from the list: it is gone.
    controllers.splice(controllers.indexOf(leader), 1);
  });
});

test('three controllers: exactly one leads and the others name it; the leader SIGKILLed → exactly one of the two others leads, the third names it', { timeout: 240_000 }, async () => {
  await withControllers('etcd controllers: three', async (_bed, _etcd, controllers) => {
    const [leader] = await leaders(controllers);
    assert.ok(leader);
    assert.equal((await leaders(controllers)).length, 1, 'one leader');
    const leaderId = (await leadershipOf(leader))?.leader;
    for (const c of controllers.filter((x) => x !== leader)) {
      await waitUntil(async () => (await leadershipOf(c))?.leader === leaderId, `${c.name} names the leader`, 20_000);
    }
    await leader.daemon.stop('SIGKILL');
    const rest = controllers.filter((c) => c !== leader);
    await waitUntil(async () => (await leaders(rest)).length === 1, 'one of the two others leads', (TTL_SECONDS + 10) * 1000, 100);
    const [next] = await leaders(rest);
    assert.ok(next);
    const third = rest.find((c) => c !== next) as Controller;
    const nextId = (await leadershipOf(next))?.leader;
    await waitUntil(async () => (await leadershipOf(third))?.leader === nextId, 'the third names the new leader', 20_000);
    assert.equal((await leaders(rest)).length, 1, 'still exactly one leader');
    controllers.splice(controllers.indexOf(leader), 1);
  }, {}, 3);
});

test('etcd.forward_insecure: a follower forwards a mutating call to the leader; master crash: the leader fails over; the master key names the new master when it first accepts a write', { timeout: 240_000 }, async () => {
  await withControllers('etcd controllers: failover with the master key', async (bed, etcd, controllers) => {
    await waitUntil(async () => (await leaders(controllers)).length === 1, 'one controller leads', 30_000);
    const [leader] = await leaders(controllers);
    assert.ok(leader);
    await waitUntil(async () => (await monitorCycles(leader)) > 1, 'the leader monitors', 30_000);
    const follower = controllers.find((c) => c !== leader) as Controller;
    // etcd.forward_insecure: a mutating call on the follower is run by the leader, with the caller's credentials.
    await waitUntil(async () => (await leadershipOf(follower))?.leader_url === `${leader.daemon.url}/`, 'the follower knows the leader', 15_000);
    const paused = await http(follower.daemon.url, '/pause', { method: 'POST', headers: { authorization: basic(ADMIN) } });
    assert.equal(paused.status, 200, JSON.stringify(paused.json));
    assert.equal(paused.headers['x-handyrep-leader'], leader.daemon.url);
    const leaderStatus = (await http(leader.daemon.url, '/get_status', { headers: { authorization: basic(ADMIN) } })).json as { cluster: { paused?: boolean } };
    assert.equal(leaderStatus.cluster.paused, true, 'the leader ran the forwarded pause');
    const wrongPassword = await http(follower.daemon.url, '/resume', { method: 'POST', headers: { authorization: basic('not-the-password') } });
    assert.equal(wrongPassword.status, 401, 'the follower authenticates before forwarding');
    assert.equal((await http(follower.daemon.url, '/resume', { method: 'POST', headers: { authorization: basic(ADMIN) } })).status, 200);
    const client = etcdClient(etcd);
    try {
      await waitUntil(async () => (await readKeyJson(client, `${prefixOf(bed)}master`))?.['name'] === 'john', 'the master key is seeded', 15_000);
      await crash(bed.node('john'));
      // At the first moment another node accepts a write, the master key must already name it.
      let observed: { node: string; key: Record<string, unknown> | null } | null = null;
      const deadline = Date.now() + 60_000;
      while (observed === null && Date.now() < deadline) {
        for (const node of bed.cluster.nodes.filter((n) => n.name !== 'john')) {
          const write = await sqlOn(node, 'CREATE TABLE IF NOT EXISTS etcd_probe (i int); INSERT INTO etcd_probe VALUES (1); SELECT 1', 2000);
          if (write.ok) {
            observed = { node: node.name, key: await readKeyJson(client, `${prefixOf(bed)}master`) };
            break;
          }
        }
        if (observed === null) await new Promise((r) => setTimeout(r, 50));
      }
      assert.ok(observed, `a new master within 60 s\n${story(controllers)}`);
      assert.equal(observed.key?.['name'], observed.node, `master key at the first write: ${JSON.stringify(observed.key)}\n${story(controllers)}`);
      assert.notEqual(observed.key?.['term'], undefined);
      await waitUntil(async () => (await historyOf(leader)).some((r) => r.kind === 'failover' && r.outcome === 'SUCCESS'), 'the failover is recorded', 30_000);
      assert.deepEqual((await historyOf(follower)).filter((r) => r.kind === 'failover').length <= 1, true);
      assert.deepEqual(await writableNodes(bed.cluster), [observed.node], story(controllers));
    } finally {
      client.close();
    }
  }, { forward_insecure: true });
});

/**
 * A controller that cannot listen (its port taken) must exit at once with EXIT.LISTEN and leave
 * the leadership free, whichever comes first at start: the failed listen or its campaign's win.
 * Before, a win landing while the start-up was being undone left the process renewing a leader
 * key with no monitor and no API, forever: no other controller could lead. Several starts, as the
 * order is the machine's; then a controller that can listen leads at once.
 */
test('a controller whose port is taken exits with EXIT.LISTEN and never keeps the leadership (several starts)', { timeout: 240_000 }, async () => {
  const bed = await openBed({ label: 'etcd controllers: start that cannot listen', expect: 'failover', open: false });
  const etcd = await startEtcdCluster({ members: 3 });
  const blocker = createServer();
  const controllers: Controller[] = [];
  const client = etcdClient(etcd);
  try {
    const port = await freePort();
    await new Promise<void>((resolve) => blocker.listen(port, '127.0.0.1', resolve));
    const daemon = { listen_address: '127.0.0.1', listen_port: port, advertised_url: `http://127.0.0.1:${port}` };
    const config = await controllerConfig(bed, etcd, 'ctl-busy', {}, {}, undefined, { daemon });
    for (let start = 1; start <= 6; start += 1) {
      const spawned = spawnHandyrep(['daemon', '--config', config]);
      let timer: NodeJS.Timeout | undefined;
      const code = await Promise.race([spawned.exited, new Promise<string>((resolve) => (timer = setTimeout(() => resolve('still running after 30 s'), 30_000)))]);
      clearTimeout(timer);
      if (code !== EXIT.LISTEN) spawned.child.kill('SIGKILL');
      assert.equal(code, EXIT.LISTEN, `start ${start}:\n${spawned.stderr()}`);
      assert.match(spawned.stderr(), /cannot listen: .*EADDRINUSE/);
      assert.equal(await readKeyJson(client, `${prefixOf(bed)}leader`), null, `start ${start}: the leader key is left behind`);
    }
    controllers.push(await startController(bed, etcd, 'ctl-a'));
    await waitUntil(async () => (await leaders(controllers)).length === 1, 'a controller that can listen leads at once', 10_000);
  } finally {
    blocker.close();
    client.close();
    await stopControllers(controllers);
    await etcd.stop();
    await closeBed(bed);
  }
});
