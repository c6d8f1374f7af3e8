/**
 * Controller leadership on a real 3-member etcd (design §9 rule 2): of two campaigners exactly one
 * leads; a leader that dies (its process SIGKILLed: no resign, no keep-alive) is replaced within
 * ttl + 1 s; a clean resign hands over at once; followers see who leads and are told of changes.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { parseConfig } from '../../src/config/load.js';
import { createEtcdContext, type EtcdContext } from '../../src/store/etcd/client.js';
import type { LeaderView } from '../../src/store/etcd/leader-record.js';
import { EtcdLeadership } from '../../src/store/etcd/leadership.js';
import { startEtcdCluster, type EtcdCluster } from '../fixtures/etcd.js';
import { startCampaigner } from '../fixtures/etcd-campaigner-process.js';

const TTL = 2;
let etcd: EtcdCluster;
const contexts: EtcdContext[] = [];

function context(prefix: string): EtcdContext {
  const ctx = createEtcdContext(
    parseConfig(JSON.stringify({ handyrep: { store: 'etcd' }, etcd: { endpoints: etcd.endpoints, prefix, ttl: TTL, retry_timeout: 2 } }), 'test'),
  );
  contexts.push(ctx);
  return ctx;
}

/** Read through a function: after an assertion on `current`, TypeScript would narrow it for good. */
function termOf(leadership: EtcdLeadership): string | null {
  return leadership.current?.term ?? null;
}

before(async () => {
  etcd = await startEtcdCluster({ members: 3 });
});
after(async () => {
  for (const ctx of contexts) ctx.close();
  await etcd?.stop();
});

describe('etcd leadership', () => {
  it('of two campaigners in one process exactly one leads; the other follows and sees it', async () => {
    const prefix = '/handyrep/one-of-two/';
    const a = new EtcdLeadership(context(prefix), { controllerId: 'ctl-a', apiUrl: 'http://a:8080' });
    const b = new EtcdLeadership(context(prefix), { controllerId: 'ctl-b', apiUrl: 'http://b:8080' });
    const abort = new AbortController();
    const campaigns = [a.campaign(abort.signal).then(() => 'a'), b.campaign(abort.signal).then(() => 'b')].map((p) => p.catch(() => 'aborted'));
    const first = await Promise.race(campaigns);
    // Give the other campaigner time to (wrongly) win too.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const [winner, loser] = first === 'a' ? [a, b] : [b, a];
    assert.ok(winner.current, 'the first to resolve leads');
    assert.equal(loser.current, null, 'the other does not lead');
    const seen = await loser.currentLeader();
    assert.equal(seen?.record.controller_id, winner === a ? 'ctl-a' : 'ctl-b');
    assert.equal(seen?.record.api_url, winner === a ? 'http://a:8080' : 'http://b:8080');
    assert.equal(seen?.term, winner.current?.term, 'the follower reads the leader key\'s create revision as the term');

    // A clean resign hands over: the waiting campaigner leads with a larger term.
    const oldTerm = BigInt(winner.current?.term ?? '0');
    const started = Date.now();
    await winner.resign();
    assert.equal(winner.current, null);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([campaigns[first === 'a' ? 1 : 0], new Promise((_, reject) => (timer = setTimeout(() => reject(new Error('no takeover after resign')), 3000)))]);
    clearTimeout(timer);
    const newTerm = termOf(loser);
    assert.ok(newTerm !== null && BigInt(newTerm) > oldTerm, 'the new term is larger');
    assert.ok(Date.now() - started < 2000, `takeover after a resign took ${Date.now() - started} ms`);
    abort.abort();
    await loser.resign();
  });

  it('a leader process SIGKILLed is replaced within ttl + 1 s; the follower is told through its watch', async () => {
    const prefix = '/handyrep/killed-leader/';
    const settings = { endpoints: etcd.endpoints, prefix, ttl: TTL, retry_timeout: 2 };
    const dead = startCampaigner({ ...settings, controller_id: 'ctl-dead' });
    const leading = await dead.next('leading', 15_000);
    const follower = new EtcdLeadership(context(prefix), { controllerId: 'ctl-live', apiUrl: null });
    const changes: (LeaderView | null)[] = [];
    const stopWatch = follower.watchLeader((view) => changes.push(view));
    const abort = new AbortController();
    const campaign = follower.campaign(abort.signal);
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.equal(follower.current, null, 'the follower waits while the leader lives');
    assert.equal((await follower.currentLeader())?.record.controller_id, 'ctl-dead');

    await dead.kill('SIGKILL');
    const killedAt = Date.now();
    const term = await campaign;
    const takeoverMs = Date.now() - killedAt;
    console.log(`takeover after SIGKILL of the leader: ${takeoverMs} ms (ttl ${TTL} s)`);
    assert.ok(takeoverMs <= TTL * 1000 + 1000, `takeover took ${takeoverMs} ms, more than ttl + 1 s`);
    assert.ok(BigInt(term.term) > BigInt(leading.term ?? '0'), 'the new term is larger than the dead leader\'s');
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.ok(changes.includes(null), 'the watch reported the dead leader\'s key going');
    assert.equal(changes.at(-1)?.record.controller_id, 'ctl-live', 'the watch reported the new leader');
    await stopWatch();
    await follower.resign();
  });
});
