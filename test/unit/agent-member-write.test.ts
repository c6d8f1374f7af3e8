/**
 * The idle agent's etcd calls (idle cost): the member record's transaction that also reads
 * `master` (member-write.ts), that read standing for the rounds' backstop read
 * (MasterWatch.noteRead), and two lease renewals in one tick sharing one keep-alive stream.
 */
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { test } from 'node:test';
import { KeepaliveChannel } from '../../src/agent/agent-lease.js';
import type { MasterKeyView } from '../../src/agent/decide.js';
import { MasterWatch, type MasterKv } from '../../src/agent/master-watch.js';
import { putMemberReadMaster } from '../../src/agent/member-write.js';
import type { EtcdContext } from '../../src/store/etcd/client.js';
import { encodeMasterRecord } from '../../src/store/etcd/master-record.js';

const masterKv = (name: string, modRevision: number): MasterKv => ({
  value: Buffer.from(encodeMasterRecord({ name, term: '1', timeline: null, promoted_lsn: null, sync_set: [], since: '2026-01-01T00:00:00.000Z', written_by: 'test' })),
  mod_revision: String(modRevision),
});
const named = (r: { view: MasterKeyView }): string | null => (r.view.state === 'present' ? r.view.record.name : null);

test('the member record transaction: put under the lease and read master, no comparison; the read at its revision', async () => {
  const requests: unknown[] = [];
  const ctx = {
    keys: { master: '/t/master', member: (node: string) => `/t/members/${node}` },
    client: { kv: { txn: async (req: unknown) => (requests.push(req), { succeeded: true, header: { revision: '42' }, responses: [{ response_put: {} }, { response_range: { kvs: [masterKv('john', 7)] } }] }) } },
  } as unknown as EtcdContext;
  const written = await putMemberReadMaster(ctx, 'john', '{"name":"john"}', '99', 1000);
  assert.equal(written.revision, '42');
  assert.equal(written.master?.mod_revision, '7');
  assert.deepEqual(requests, [
    {
      compare: [],
      success: [{ request_put: { key: Buffer.from('/t/members/john'), value: Buffer.from('{"name":"john"}'), lease: '99' } }, { request_range: { key: Buffer.from('/t/master') } }],
      failure: [],
    },
  ]);
});

test("a replica's transaction also reads its master's record (third operation): text, null when absent; a missing answer is malformed", async () => {
  const answers: unknown[][] = [
    [{ response_put: {} }, { response_range: { kvs: [masterKv('john', 7)] } }, { response_range: { kvs: [{ value: Buffer.from('{"name":"john"}') }] } }],
    [{ response_put: {} }, { response_range: { kvs: [masterKv('john', 7)] } }, { response_range: { kvs: [] } }],
    [{ response_put: {} }, { response_range: { kvs: [masterKv('john', 7)] } }],
  ];
  const requests: { success: unknown[] }[] = [];
  const ctx = {
    keys: { master: '/t/master', member: (node: string) => `/t/members/${node}` },
    client: { kv: { txn: async (req: { success: unknown[] }) => (requests.push(req), { succeeded: true, header: { revision: '42' }, responses: answers.shift() }) } },
  } as unknown as EtcdContext;
  assert.equal((await putMemberReadMaster(ctx, 'paul', '{}', '99', 1000, 'john')).alsoMember, '{"name":"john"}');
  assert.deepEqual(requests[0]?.success[2], { request_range: { key: Buffer.from('/t/members/john') } });
  assert.equal((await putMemberReadMaster(ctx, 'paul', '{}', '99', 1000, 'john')).alsoMember, null);
  await assert.rejects(putMemberReadMaster(ctx, 'paul', '{}', '99', 1000, 'john'), /other operations than its put and ranges/);
  assert.equal('alsoMember' in (await putMemberReadMaster({ ...ctx, client: { kv: { txn: async () => ({ succeeded: true, header: { revision: '1' }, responses: [{ response_put: {} }, { response_range: { kvs: [] } }] }) } } } as unknown as EtcdContext, 'paul', '{}', '99', 1000)), false, 'not asked: not answered');
});

test('a member record is never written without a lease (it would outlive its agent): refused before any call', async () => {
  let calls = 0;
  const ctx = { keys: { master: '/t/master', member: (node: string) => `/t/members/${node}` }, client: { kv: { txn: async () => (calls++, {}) } } } as unknown as EtcdContext;
  for (const id of ['', '0', 'null', '-1']) await assert.rejects(putMemberReadMaster(ctx, 'paul', '{}', id, 1000), /written under a lease/);
  await assert.rejects(putMemberReadMaster(ctx, 'paul', '{}', null as unknown as string, 1000), /written under a lease/);
  assert.equal(calls, 0);
});

test('the member record transaction: master absent → undefined; an unapplied transaction is an error', async () => {
  let succeeded = true;
  const ctx = {
    keys: { master: '/t/master', member: (node: string) => `/t/members/${node}` },
    client: { kv: { txn: async () => ({ succeeded, header: { revision: '5' }, responses: [{ response_put: {} }, { response_range: { kvs: [] } }] }) } },
  } as unknown as EtcdContext;
  assert.equal((await putMemberReadMaster(ctx, 'john', '{}', '1', 1000)).master, undefined);
  succeeded = false;
  await assert.rejects(putMemberReadMaster(ctx, 'john', '{}', '1', 1000), /did not apply/);
});

/** A MasterWatch on a live watch whose range read counts its calls. */
function liveWatch(nowMs: () => number): { watch: MasterWatch; watchers: EventEmitter[]; lines: string[]; ranges: () => number } {
  const watchers: EventEmitter[] = [];
  const lines: string[] = [];
  let ranges = 0;
  // watch().key(k).watcher(): a new emitter each time the watch is (re)started.
  const builder = { key: () => builder, watcher: () => watchers[watchers.push(Object.assign(new EventEmitter(), { cancel: async () => undefined })) - 1] };
  const range = async (): Promise<unknown> => (ranges++, { header: { revision: '10' }, kvs: [masterKv('john', 5)] });
  const ctx = { keys: { master: '/t/master' }, client: { watch: () => builder, kv: { range } } } as unknown as EtcdContext;
  const watch = new MasterWatch(ctx, 3000, nowMs, (line) => lines.push(line));
  watch.start();
  watchers[0]?.emit('connected', {});
  return { watch, watchers, lines, ranges: () => ranges };
}

test('a member transaction every ttl/3 stands for the backstop read: an idle round never reads', async () => {
  let nowMs = 0;
  const { watch, ranges } = liveWatch(() => nowMs);
  assert.equal((await watch.read(1000)).source, 'read', 'the first round after the watch connected reads');
  for (let second = 1; second <= 12; second++) {
    nowMs = second * 1000;
    // The agent writes its record every other round (ttl 5 s: every 1.67 s, rounds 1 s apart).
    if (second % 2 === 0) watch.noteRead(String(10 + second), masterKv('john', 5), nowMs - 5);
    const round = await watch.read(1000);
    assert.deepEqual([round.source, named(round)], ['watch', 'john'], `round at ${second} s`);
  }
  assert.equal(ranges(), 1);
  assert.equal((await watch.read(1000)).readRevision, '22', 'the view is known current at the transaction\'s revision');
  nowMs = 11_995 + 2999; // the last transaction was sent at 11,995 ms
  assert.equal((await watch.read(1000)).source, 'watch');
  nowMs = 11_995 + 3000;
  assert.equal((await watch.read(1000)).source, 'read', 'without a transaction for ttl − safety_margin, the backstop read is back');
  watch.close();
});

test('a transaction that finds the key moved, which the watch did not say, restarts the watch (as a read does)', async () => {
  let nowMs = 0;
  const { watch, watchers, lines } = liveWatch(() => nowMs);
  await watch.read(1000);
  nowMs = 1000;
  watch.noteRead('20', masterKv('paul', 18), 900);
  assert.equal(watchers.length, 2, 'a new watch');
  assert.match(lines.join('\n'), /a read found the master key at mod revision 18, the watch had 5/);
  const next = await watch.read(1000);
  assert.deepEqual([next.source, named(next)], ['read', 'paul'], 'until the new watch connects, rounds read (this fake range answers at revision 10, older than the transaction\'s 20: paul stands)');
  watch.close();
});

test('a transaction sent before the watch reconnected does not stand for the read owed after it; an older answer never replaces a newer event', async () => {
  let nowMs = 0;
  const { watch, watchers } = liveWatch(() => nowMs);
  await watch.read(1000);
  nowMs = 1000;
  watchers[0]?.emit('disconnected', {});
  nowMs = 1100;
  watchers[0]?.emit('connected', {});
  watch.noteRead('12', masterKv('john', 5), 1050);
  assert.equal((await watch.read(1000)).source, 'read', 'sent at 1050 ms, before the reconnection at 1100 ms');
  watch.noteRead('13', masterKv('john', 5), 1200);
  assert.equal((await watch.read(1000)).source, 'watch');
  watchers[0]?.emit('put', { mod_revision: '30', value: masterKv('paul', 30).value });
  watch.noteRead('25', masterKv('john', 5), 1300);
  const after = await watch.read(1000);
  assert.deepEqual([named(after), after.readRevision], ['paul', '30'], 'the event at revision 30 stands against the answer at 25');
  watch.close();
});

test('two renewals in one tick (the master and the member lease) open one keep-alive stream and share it', async () => {
  const streams: (EventEmitter & { write: (req: { ID: string }) => void; end: () => void })[] = [];
  let opens = 0;
  const ctx = {
    client: {
      leaseClient: {
        leaseKeepAlive: async () => {
          opens++;
          await new Promise((resolve) => setImmediate(resolve));
          const stream = Object.assign(new EventEmitter(), {
            write: (req: { ID: string }) => setImmediate(() => stream.emit('data', { ID: req.ID, TTL: '5' })),
            end: () => undefined,
          });
          streams.push(stream);
          return stream;
        },
      },
    },
  } as unknown as EtcdContext;
  const channel = new KeepaliveChannel();
  assert.deepEqual(await Promise.all([channel.keepalive(ctx, '1', 1000), channel.keepalive(ctx, '2', 1000)]), ['5', '5']);
  assert.equal(opens, 1, 'one stream, not one per renewal');
  assert.equal(await channel.keepalive(ctx, '1', 1000), '5');
  assert.equal(opens, 1);
  channel.close();
});
