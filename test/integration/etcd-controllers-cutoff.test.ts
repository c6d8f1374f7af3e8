/**
 * The leading controller cut off from etcd while its PostgreSQL nodes are fine (real etcd, 3
 * members; real PostgreSQL): it runs as its own OS user (test/fixtures/controller-user.ts) and
 * iptables drops only that user's packets to the etcd members. The master crashes; the cut comes
 * the moment the leader's journal shows a step running (the leader held by SIGSTOP while the
 * rules go in). Then:
 *   - it stops acting within ttl: its log records the lost leadership at most ttl after the cut,
 *     and no step but the one in flight at the cut logs an outcome after that;
 *   - the other controller leads and finishes (or rolls back) the failover;
 *   - no write of the deposed leader lands after its term ended, from etcd's revision history:
 *     while cut off, none of its packets reaches etcd; when healed, the new leader is frozen
 *     (SIGSTOP) first, so every write under the cluster prefix from the heal until the new leader
 *     is resumed 6 s later came from the deposed one (the only HandyRep process running; no
 *     agents; PostgreSQL does not write to etcd). A campaign it wins meanwhile (the frozen
 *     leader's lease may run out) starts a new term of its own: writes from that put of the
 *     leader key on are under that term and not counted;
 *   - at most one writable server at every 50 ms sample (closeBed).
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { crash } from '../fixtures/faults.js';
import { cleanupAll, closeBed, openBed, sleep, waitUntil, writableNodes } from '../fixtures/chaos.js';
import { startEtcdCluster } from '../fixtures/etcd.js';
import { controllerUser, userHome } from '../fixtures/controller-user.js';
import { dropHost, listRules, undropHost } from '../fixtures/iptables.js';
import { etcdClient, leaders, leadershipOf, monitorCycles, prefixOf, readKeyJson, startController, stopControllers, TTL_SECONDS, type Controller } from '../fixtures/etcd-controllers.js';

after(cleanupAll);

interface LogLine {
  time: string;
  category: string;
  msg: string;
}

/**
 * How long the deposed controller runs alone after the heal: longer than the lease, and than
 * TCP's retransmission backoff after a cut of several seconds, so that a request it sent while
 * cut off (queued in its socket) reaches etcd inside the window. Its own new term (the frozen
 * leader's lease runs out) ends the counting: TCP delivers a connection's old requests before
 * its campaign.
 */
const ALONE_MS = 6000;

const STEP_RAN = /step (fence|promote|remaster|rejoin|rollback|restart_old_master|settle_promotion)\b.*: ok:/;

for (const step of ['select', 'promote'] as const) {
  test(`leader cut off from etcd at failover step ${step}: it stops within ttl, the other leads, nothing of it lands after its term`, { timeout: 240_000 }, async () => {
    const bed = await openBed({ label: `etcd controllers: leader cut off at ${step}`, expect: 'failover', open: false });
    const etcd = await startEtcdCluster({ members: 3 });
    const user = controllerUser();
    const home = userHome(user, 'ctl-cut', bed.cluster.sshKeyPath, bed.cluster.knownHostsPath);
    const client = etcdClient(etcd);
    const controllers: Controller[] = [];
    const heal = (): void => {
      for (const member of etcd.members) undropHost(member.host);
    };
    try {
      // The one to be cut off leads: it starts first, alone.
      const cut = await startController(bed, etcd, 'ctl-cut', {}, {}, home);
      controllers.push(cut);
      await waitUntil(async () => (await leadershipOf(cut))?.leading === true, 'the controller under its own user leads', 30_000);
      const other = await startController(bed, etcd, 'ctl-other');
      controllers.push(other);
      await waitUntil(async () => (await leaders(controllers)).length === 1 && (await leadershipOf(other))?.leading === false, 'the other follows', 30_000);
      await waitUntil(async () => (await monitorCycles(cut)) > 1, 'the leader monitors', 30_000);
      const oldTerm = (await leadershipOf(cut))?.term ?? null;
      assert.ok(oldTerm !== null);

      const prefix = prefixOf(bed);
      const history: { revision: bigint; key: string; type: 'put' | 'delete' }[] = [];
      const watcher = await client.watch().prefix(prefix).create();
      watcher.on('put', (kv) => history.push({ revision: BigInt(kv.mod_revision), key: kv.key.toString(), type: 'put' }));
      watcher.on('delete', (kv) => history.push({ revision: BigInt(kv.mod_revision), key: kv.key.toString(), type: 'delete' }));
      let cutAt = 0;
      const seen: string[] = [];
      // Steps whose start the leader journaled in etcd ("running"): begun under its term. Only a
      // leader's term-guarded write lands there, so a step of the deposed one is never among them.
      const journaledRunning = new Set<string>();
      watcher.on('put', (kv) => {
        if (kv.key.toString() !== `${prefix}journal`) return;
        const steps = (JSON.parse(kv.value.toString()) as { steps?: { name: string; server: string | null; outcome: string }[] }).steps ?? [];
        for (const s of steps) if (s.outcome === 'running') journaledRunning.add(s.server === null ? s.name : `${s.name} (${s.server})`);
      });
      const cutOff = new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), 60_000);
        watcher.on('put', (kv) => {
          if (kv.key.toString() !== `${prefix}journal` || cutAt !== 0) return;
          const last = (JSON.parse(kv.value.toString()) as { steps?: { name: string; outcome: string }[] }).steps?.at(-1);
          if (!last) return;
          seen.push(`${last.name}:${last.outcome}`);
          if (last.name === step && last.outcome === 'running') {
            clearTimeout(timer);
            // Held still while the rules go in (iptables takes a while): the cut lands at this step.
            process.kill(cut.daemon.pid, 'SIGSTOP');
            for (const member of etcd.members) dropHost(member.host, user.uid);
            cutAt = Date.now();
            process.kill(cut.daemon.pid, 'SIGCONT');
            resolve(true);
          }
        });
      });
      await crash(bed.node('john'));
      assert.ok(await cutOff, `never saw step ${step} running; journal steps seen: ${seen.join(' → ')}`);
      assert.ok(listRules().some((rule) => rule.includes(`--uid-owner ${user.uid}`)), 'the owner rules are in place');

      // The other leads (after the old lease ran out) and settles the cluster.
      await waitUntil(async () => (await leadershipOf(other))?.leading === true, 'the other controller leads', (TTL_SECONDS + 15) * 1000, 100);
      const newTerm = (await leadershipOf(other))?.term ?? null;
      assert.ok(newTerm !== null && BigInt(newTerm) > BigInt(oldTerm), `new term ${String(newTerm)} after ${oldTerm}`);
      await waitUntil(async () => {
        const writable = await writableNodes(bed.cluster);
        const key = await readKeyJson(client, `${prefix}master`).catch(() => null);
        const journal = await readKeyJson(client, `${prefix}journal`).catch(() => null);
        return writable.length === 1 && writable[0] !== 'john' && key?.['name'] === writable[0] && journal === null;
      }, `the other finished the failover (cut at ${step}; seen ${seen.join(' → ')})`, 90_000, 250);
      assert.equal((await leadershipOf(cut))?.leading, false, 'the cut-off controller does not lead');

      // Cut off, nothing of it reached etcd after its term: its packets were dropped.
      // Healed with the new leader frozen: whatever lands now is the deposed controller's.
      process.kill(other.daemon.pid, 'SIGSTOP');
      await sleep(200);
      const from = BigInt((await client.get(`${prefix}leader`).exec()).header.revision);
      heal();
      const healed = Date.now();
      // Its reads of etcd resume in the window: its writes, if it issued any, would too.
      let freshAfterMs: number | null = null;
      while (Date.now() - healed < ALONE_MS) {
        const seenByIt = await leadershipOf(cut);
        if (freshAfterMs === null && seenByIt?.stale === false && (seenByIt.data_age_ms ?? Infinity) < Date.now() - healed) freshAfterMs = Date.now() - healed;
        await sleep(100);
      }
      const to = BigInt((await client.get(`${prefix}leader`).exec()).header.revision);
      process.kill(other.daemon.pid, 'SIGCONT');
      await sleep(500);
      await watcher.cancel();
      const window = history.filter((h) => h.revision > from && h.revision <= to);
      const ownTerm = window.find((h) => h.key === `${prefix}leader` && h.type === 'put')?.revision ?? to + 1n;
      // A lease running out deletes the leader key: etcd's doing, not a controller's write.
      const deposedWrites = window.filter((h) => h.revision < ownTerm && !(h.key === `${prefix}leader` && h.type === 'delete'));
      console.log(`the deposed controller read etcd again ${String(freshAfterMs)} ms after the heal`);
      assert.ok(freshAfterMs !== null, 'the deposed controller read etcd again while it ran alone after the heal');
      assert.deepEqual(deposedWrites, [], `writes of the deposed controller after its term (${oldTerm}) ended (new term ${newTerm})`);

      // It stopped acting within ttl of the cut, and ran no step after.
      const log = readFileSync(join(home.dir, 'ctl-cut.log'), 'utf8')
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map((l) => JSON.parse(l) as LogLine);
      const lost = log.find((l) => l.category === 'LEADERSHIP' && /leadership lost/.test(l.msg) && Date.parse(l.time) >= cutAt - 1000);
      assert.ok(lost, `the cut-off controller logged its loss:\n${log.map((l) => `${l.time} ${l.category} ${l.msg}`).join('\n')}`);
      const lostAfterMs = Date.parse(lost.time) - cutAt;
      console.log(`cut at ${step}: the leader logged its loss ${lostAfterMs} ms after the cut; the new term ${newTerm}; ${window.length} writes while it ran alone after the heal, ${deposedWrites.length} before ${ownTerm <= to ? `its new term ${ownTerm}` : 'the end'}`);
      assert.ok(lostAfterMs <= TTL_SECONDS * 1000, `loss logged ${lostAfterMs} ms after the cut (ttl ${TTL_SECONDS} s)`);
      // The step in flight at the cut (the named one, or the next when the leader got there before
      // the cut landed) may log its outcome late, after its journal writes failed: its start was
      // journaled under the term. Any other step logged after the loss started after it.
      const startedUnderTerm = (msg: string): boolean => new RegExp(`step ${step}\\b`).test(msg) || [...journaledRunning].some((label) => msg.includes(`step ${label}:`));
      const ranAfter = log.filter((l) => l.time > lost.time && l.category === 'FAILOVER' && STEP_RAN.test(l.msg) && !startedUnderTerm(l.msg));
      const story = log.filter((l) => Date.parse(l.time) >= cutAt - 2000).map((l) => `${l.time} ${l.category} ${l.msg}`).join('\n');
      assert.deepEqual(ranAfter.map((l) => l.msg), [], `no step of the deposed leader ran after its loss (cut at ${new Date(cutAt).toISOString()}):\n${story}`);

      // Whoever leads now, one master, named by the master key.
      await waitUntil(async () => (await leaders(controllers)).length === 1, 'one controller leads', 30_000);
      await waitUntil(async () => {
        const writable = await writableNodes(bed.cluster);
        const key = await readKeyJson(client, `${prefix}master`).catch(() => null);
        return writable.length === 1 && key?.['name'] === writable[0];
      }, 'one writable server named by the master key', 30_000, 250);
    } catch (err) {
      const stories = controllers.map((c) => `--- ${c.name}:\n${c.daemon.stderr().slice(-3000)}`).join('\n');
      throw new Error(`${(err as Error).message}\n${stories}`, { cause: err });
    } finally {
      heal();
      client.close();
      await stopControllers(controllers);
      await etcd.stop();
      await closeBed(bed);
      home.remove();
    }
  });
}
