/**
 * etcd without quorum (design §9 rule 5): with 2 of 3 members stopped a guarded write fails
 * within retry_timeout with STORE_UNREACHABLE (no hang), and the leader reports its leadership
 * lost within ttl of its last renewal (it must stop before a successor could start).
 * With the members back, campaigning succeeds again.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { parseConfig } from '../../src/config/load.js';
import { HandyRepError } from '../../src/model/errors.js';
import { createEtcdContext, type EtcdContext } from '../../src/store/etcd/client.js';
import { termGuardedWrite } from '../../src/store/etcd/guarded-txn.js';
import { EtcdLeadership, type LeadershipLoss } from '../../src/store/etcd/leadership.js';
import { startEtcdCluster, type EtcdCluster } from '../fixtures/etcd.js';

const TTL = 3;
const RETRY_TIMEOUT = 2;
let etcd: EtcdCluster;
let ctx: EtcdContext | undefined;

before(async () => {
  etcd = await startEtcdCluster({ members: 3 });
});
after(async () => {
  ctx?.close();
  await etcd?.stop();
});

it('quorum lost: writes fail within retry_timeout, leadership is lost within ttl; quorum back: leading again', async () => {
  ctx = createEtcdContext(
    parseConfig(JSON.stringify({ handyrep: { store: 'etcd' }, etcd: { endpoints: etcd.endpoints, prefix: '/handyrep/quorum/', ttl: TTL, retry_timeout: RETRY_TIMEOUT } }), 'test'),
  );
  const leadership = new EtcdLeadership(ctx, { controllerId: 'ctl-a', apiUrl: null });
  const losses: LeadershipLoss[] = [];
  leadership.onLost((loss) => losses.push(loss));
  const first = await leadership.campaign();
  await termGuardedWrite(ctx, leadership, 'write the master', [{ kind: 'put', key: ctx.keys.master, value: '{"name":"john"}' }]);

  const [, second, third] = etcd.members;
  assert.ok(second && third);
  await Promise.all([second.stop(), third.stop()]);
  const stoppedAt = Date.now();

  const writeStarted = Date.now();
  await assert.rejects(
    termGuardedWrite(ctx, leadership, 'write the master', [{ kind: 'put', key: ctx.keys.master, value: '{"name":"paul"}' }]),
    (err: unknown) => err instanceof HandyRepError && err.code === 'STORE_UNREACHABLE' && /\(write the master\): unreachable(,| or) without quorum/.test(err.message),
  );
  const writeMs = Date.now() - writeStarted;
  console.log(`guarded write without quorum failed after ${writeMs} ms (retry_timeout ${RETRY_TIMEOUT} s)`);
  assert.ok(writeMs <= RETRY_TIMEOUT * 1000 + 300, `the write took ${writeMs} ms`);

  // The surviving member is etcd's leader for up to its election timeout (0.5 s here) after the
  // others went, and renews leases meanwhile: the loss comes within ttl of the last renewal
  // etcd granted, so within ttl + 1 s of the stop.
  const lossDeadline = stoppedAt + TTL * 1000 + 1000;
  while (losses.length === 0 && Date.now() < lossDeadline) await new Promise((r) => setTimeout(r, 20));
  assert.equal(losses.length, 1, `leadership not reported lost within ttl + 1 s (${TTL + 1} s) of the quorum loss`);
  const loss = losses[0] as LeadershipLoss;
  console.log(`leadership lost ${loss.atMs - stoppedAt} ms after the quorum loss: ${loss.reason}`);
  assert.ok(loss.atMs <= lossDeadline, `loss reported ${loss.atMs - stoppedAt} ms after the stop`);
  assert.equal(loss.term, first.term);
  assert.equal(leadership.current, null);
  // A write after the loss is refused without asking etcd.
  await assert.rejects(
    termGuardedWrite(ctx, leadership, 'write the master', [{ kind: 'put', key: ctx.keys.master, value: '{"name":"paul"}' }]),
    (err: unknown) => err instanceof HandyRepError && err.code === 'NOT_LEADER',
  );

  // A campaign meanwhile keeps trying (no quorum: no answer) …
  const campaign = leadership.campaign();
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(leadership.current, null);
  // … and wins once the members are back (the old key goes when its lease runs out).
  const backAt = Date.now();
  await Promise.all([second.start(), third.start()]);
  let timer: NodeJS.Timeout | undefined;
  const next = await Promise.race([campaign, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('no leadership 20 s after quorum returned')), 20_000)))]);
  clearTimeout(timer);
  console.log(`leading again ${Date.now() - backAt} ms after the members were started again`);
  assert.ok(BigInt(next.term) > BigInt(first.term));
  await termGuardedWrite(ctx, leadership, 'write the master', [{ kind: 'put', key: ctx.keys.master, value: '{"name":"paul"}' }]);
  const read = await ctx.client.kv.range({ key: Buffer.from(ctx.keys.master) });
  assert.equal(read.kvs[0]?.value.toString(), '{"name":"paul"}');
  await leadership.resign();
});
