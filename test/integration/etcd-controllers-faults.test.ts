/**
 * etcd_lease under faults (real etcd, 3 members; real PostgreSQL):
 *   - the leader frozen (SIGSTOP) in the middle of a failover past the lease ttl, the other takes
 *     over and finishes; the frozen one resumed issues no command (its log shows no step run after
 *     the thaw, only refusals; the writable server stays the one the master key names);
 *   - etcd without quorum (2 of 3 members stopped) while the master crashes: no promotion, the
 *     follower's checks answer 503 (stale), never 200; quorum back → the failover proceeds.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { crash } from '../fixtures/faults.js';
import { cleanupAll, waitUntil, writableNodes, type Bed } from '../fixtures/chaos.js';
import { http } from '../fixtures/daemon.js';
import { etcdClient, leaders, withControllers, leadershipOf, monitorCycles, prefixOf, readKeyJson, TTL_SECONDS, type Controller } from '../fixtures/etcd-controllers.js';

after(cleanupAll);

interface FileLogLine {
  time: string;
  category: string;
  msg: string;
}

function logLines(bed: Bed, name: string): FileLogLine[] {
  return readFileSync(join(bed.cluster.root, `${name}.log`), 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as FileLogLine);
}

test('leader frozen (SIGSTOP) mid-failover past the ttl, then resumed: it issues no command', { timeout: 180_000 }, async () => {
  await withControllers('etcd controllers: frozen leader', async (bed, etcd, controllers) => {
    const [leader] = await leaders(controllers);
    assert.ok(leader);
    const follower = controllers.find((c) => c !== leader) as Controller;
    await waitUntil(async () => (await monitorCycles(leader)) > 1, 'the leader monitors', 30_000);
    const client = etcdClient(etcd);
    try {
      const journalKey = `${prefixOf(bed)}journal`;
      const watcher = await client.watch().key(journalKey).create();
      // Every journal write, with its revision: those below the new leader's term are the frozen one's.
      const puts: { revision: bigint; last: { name: string; outcome: string } | undefined }[] = [];
      const frozen = new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), 60_000);
        watcher.on('put', (kv) => {
          const last = (JSON.parse(kv.value.toString()) as { steps?: { name: string; outcome: string }[] }).steps?.at(-1);
          puts.push({ revision: BigInt(kv.mod_revision), last });
          // Frozen right before its irreversible steps (fence, promote).
          if (last?.name === 'select' && last.outcome === 'running') {
            clearTimeout(timer);
            process.kill(leader.daemon.pid, 'SIGSTOP');
            resolve(true);
          }
        });
      });
      await crash(bed.node('john'));
      assert.ok(await frozen, 'the leader reached the select step');
      // The other controller takes over (after the ttl) and finishes the failover.
      await waitUntil(async () => (await leadershipOf(follower))?.leading === true, 'the follower leads', (TTL_SECONDS + 15) * 1000);
      await watcher.cancel();
      // SIGSTOP lands a moment after the journal write that triggered it: the frozen controller may
      // already be inside the next step (its journal entry written under its term). That step's
      // own observation may finish after the thaw; any command in it is refused (not leading).
      const newTerm = BigInt((await leadershipOf(follower))?.term ?? '0');
      const inFlight = puts.filter((p) => p.revision < newTerm).at(-1)?.last;
      const mayFinish = inFlight?.outcome === 'running' ? inFlight.name : null;
      await waitUntil(async () => {
        const writable = await writableNodes(bed.cluster);
        const key = await readKeyJson(client, `${prefixOf(bed)}master`).catch(() => null);
        return writable.length === 1 && writable[0] !== 'john' && key?.['name'] === writable[0];
      }, 'a new master named by the master key', 60_000, 250);
      const [master] = await writableNodes(bed.cluster);
      const thawedAt = new Date().toISOString();
      process.kill(leader.daemon.pid, 'SIGCONT');
      // Let the resumed controller run whatever it had pending, for several poll intervals.
      for (let i = 0; i < 16; i++) {
        await new Promise((r) => setTimeout(r, 500));
        assert.deepEqual(await writableNodes(bed.cluster), [master], `only ${String(master)} writable after the thaw`);
      }
      const after = logLines(bed, leader.name).filter((l) => l.time >= thawedAt);
      const ran = after.filter((l) => l.category === 'FAILOVER' && /step (fence|promote|remaster|rejoin|rollback|restart_old_master|settle_promotion)\b.*: ok:/.test(l.msg));
      const started = ran.filter((l) => mayFinish === null || !l.msg.includes(`step ${mayFinish} `));
      const finishedInFlight = ran.filter((l) => !started.includes(l));
      assert.deepEqual(started, [], `the resumed controller started no step (in flight at the freeze: ${String(mayFinish)}):\n${after.map((l) => `${l.time} ${l.category} ${l.msg}`).join('\n')}`);
      // The step in flight may finish only by observing: a fence that found the master down, nothing issued.
      for (const l of finishedInFlight) assert.match(l.msg, /fence \(john\): ok: john is not running/, `in-flight step: ${l.msg}`);
      assert.ok(after.some((l) => l.category === 'LEADERSHIP' && /leadership lost/.test(l.msg)), `it logged the loss:\n${after.map((l) => `${l.category} ${l.msg}`).join('\n')}`);
      assert.equal((await readKeyJson(client, `${prefixOf(bed)}master`))?.['name'], master);
      assert.equal((await leadershipOf(leader))?.leading, false);
    } finally {
      client.close();
    }
  });
});

test('etcd without quorum while the master crashes: no promotion, checks answer 503; quorum back → the failover proceeds', { timeout: 180_000 }, async () => {
  await withControllers('etcd controllers: quorum lost', async (bed, etcd, controllers) => {
    const [leader] = await leaders(controllers);
    assert.ok(leader);
    const follower = controllers.find((c) => c !== leader) as Controller;
    await waitUntil(async () => (await monitorCycles(leader)) > 1, 'the leader monitors', 30_000);
    await waitUntil(async () => (await http(follower.daemon.url, '/primary/john')).status === 200, 'the follower answers /primary from fresh data', 15_000);
    const [m1, m2] = [etcd.members[1], etcd.members[2]];
    assert.ok(m1 && m2);
    await m1.stop();
    await m2.stop();
    // Leadership ends within the ttl (no renewal reaches a quorum).
    await waitUntil(async () => (await leaders(controllers)).length === 0, 'nobody leads without quorum', (TTL_SECONDS + 5) * 1000);
    await crash(bed.node('john'));
    for (let i = 0; i < 10; i++) {
      await new Promise((r) => setTimeout(r, 1000));
      assert.deepEqual(await writableNodes(bed.cluster), [], 'no promotion without quorum');
      assert.equal((await http(follower.daemon.url, '/primary/john')).status, 503, 'never a stale 200');
    }
    const stale = await leadershipOf(follower);
    assert.equal(stale?.stale, true, JSON.stringify(stale));
    await m1.start();
    await m2.start();
    await etcd.waitHealthy(30_000);
    await waitUntil(async () => (await leaders(controllers)).length === 1, 'a controller leads again', 30_000);
    const client = etcdClient(etcd);
    try {
      await waitUntil(async () => {
        const writable = await writableNodes(bed.cluster);
        const key = await readKeyJson(client, `${prefixOf(bed)}master`).catch(() => null);
        return writable.length === 1 && key?.['name'] === writable[0];
      }, 'the failover proceeds once quorum is back', 60_000, 500);
    } finally {
      client.close();
    }
  });
});
