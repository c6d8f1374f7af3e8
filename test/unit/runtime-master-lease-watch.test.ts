/**
 * MasterLeaseWatch over a fake watch source: which events reach the judgement, one judgement at a
 * time, re-opening after an error (events of the failed stream ignored), the lapses it remembers
 * for the short probe deadline, and stop.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { LeaseWatchView, MasterLeaseEvent } from '../../src/engine/lease-watch-trigger.js';
import { EventLog } from '../../src/log/event-log.js';
import { MasterLeaseWatch, type MasterLeaseEventSource } from '../../src/runtime/leadership/master-lease-watch.js';

interface FakeStream {
  emit: (event: MasterLeaseEvent) => void;
  fail: (err: Error) => void;
  closed: boolean;
}

function fakeSource(): { source: MasterLeaseEventSource; streams: FakeStream[] } {
  const streams: FakeStream[] = [];
  const source: MasterLeaseEventSource = {
    open(onEvent, onError) {
      const stream: FakeStream = { emit: onEvent, fail: onError, closed: false };
      streams.push(stream);
      return async () => {
        stream.closed = true;
      };
    },
  };
  return { source, streams };
}

function setup(view: Partial<LeaseWatchView> = {}, judge: (master: string) => Promise<string> = async () => 'judged') {
  const { source, streams } = fakeSource();
  const judged: string[] = [];
  const current: LeaseWatchView = { leading: true, master: 'john', topologyChangeRunning: false, onHold: false, agentLease: true, ...view };
  const watch = new MasterLeaseWatch({
    source,
    view: () => current,
    judge: (master) => {
      judged.push(master);
      return judge(master);
    },
    log: new EventLog({ file: null, tailSize: 100, verbose: false }),
    reopenMs: 5,
  });
  return { watch, streams, judged, current };
}

const tick = (ms = 0): Promise<void> => new Promise((r) => setTimeout(r, ms));

test("the master's lapsed lease starts one judgement at once; puts and other nodes' lapses do not", async () => {
  const { watch, streams, judged } = setup();
  watch.start();
  watch.start(); // idempotent: one stream
  assert.equal(streams.length, 1);
  const stream = streams[0] as FakeStream;
  stream.emit({ kind: 'put', node: 'john' });
  stream.emit({ kind: 'delete', node: 'paul' });
  assert.deepEqual(judged, []);
  stream.emit({ kind: 'delete', node: 'john' });
  assert.deepEqual(judged, ['john']);
  await watch.stop();
});

test('a follower (not leading) judges nothing', async () => {
  const { watch, streams, judged } = setup({ leading: false });
  watch.start();
  streams[0]?.emit({ kind: 'delete', node: 'john' });
  assert.deepEqual(judged, []);
  await watch.stop();
});

test('a second lapse while the judgement runs does not start another', async () => {
  let finish: (v: string) => void = () => undefined;
  const { watch, streams, judged } = setup({}, () => new Promise((r) => (finish = r)));
  watch.start();
  const stream = streams[0] as FakeStream;
  stream.emit({ kind: 'delete', node: 'john' });
  stream.emit({ kind: 'put', node: 'john' });
  stream.emit({ kind: 'delete', node: 'john' });
  assert.deepEqual(judged, ['john']);
  finish('done');
  await tick();
  stream.emit({ kind: 'delete', node: 'john' });
  assert.deepEqual(judged, ['john', 'john'], 'once the first is over, a new lapse judges again');
  finish('done');
  await watch.stop();
});

test('the lapse is remembered for the short probe deadline until a new lease is taken or the watch stops', async () => {
  const { watch, streams } = setup();
  watch.start();
  const stream = streams[0] as FakeStream;
  assert.equal(watch.quickProbeMs('john', 'unavailable', 1000, true), null, 'no lapse seen');
  stream.emit({ kind: 'delete', node: 'john' });
  assert.equal(watch.quickProbeMs('john', 'unavailable', 1000, true), 300);
  assert.equal(watch.quickProbeMs('john', 'healthy', 1000, true), null, 'it answered since');
  stream.emit({ kind: 'put', node: 'john' });
  assert.equal(watch.quickProbeMs('john', 'unavailable', 1000, true), null, 'a new lease: the agent holds it again');
  stream.emit({ kind: 'delete', node: 'john' });
  await watch.stop();
  assert.equal(watch.quickProbeMs('john', 'unavailable', 1000, true), null, 'a new term watches anew');
  assert.equal(stream.closed, true);
});

test('after an error the stream is re-opened; the failed stream is closed and its late events ignored', async () => {
  const { watch, streams, judged } = setup();
  watch.start();
  const first = streams[0] as FakeStream;
  first.fail(new Error('watch cancelled: compacted'));
  assert.equal(first.closed, true);
  first.emit({ kind: 'delete', node: 'john' });
  assert.deepEqual(judged, [], 'events of the failed stream are ignored');
  await tick(30);
  assert.equal(streams.length, 2, 're-opened');
  streams[1]?.emit({ kind: 'delete', node: 'john' });
  assert.deepEqual(judged, ['john']);
  await watch.stop();
  assert.equal(streams[1]?.closed, true);
});

test('stopped before the re-open is due: nothing is re-opened', async () => {
  const { watch, streams } = setup();
  watch.start();
  streams[0]?.fail(new Error('stream reset'));
  await watch.stop();
  await tick(30);
  assert.equal(streams.length, 1);
  assert.equal(watch.running, false);
});

test('an event still in flight while stop() closes the stream neither judges nor marks a lapse; start() begins with none', async () => {
  const releases: (() => void)[] = [];
  const emits: ((event: MasterLeaseEvent) => void)[] = [];
  // Like etcd3's cancel: the close resolves only when the server confirms, events may come meanwhile.
  const source: MasterLeaseEventSource = {
    open(onEvent) {
      emits.push(onEvent);
      const closed = new Promise<void>((resolve) => releases.push(resolve));
      return () => closed;
    },
  };
  const judged: string[] = [];
  const watch = new MasterLeaseWatch({
    source,
    view: () => ({ leading: true, master: 'john', topologyChangeRunning: false, onHold: false, agentLease: true }),
    judge: async (master) => (judged.push(master), 'judged'),
    log: new EventLog({ file: null, tailSize: 10, verbose: false }),
  });
  watch.start();
  const stopping = watch.stop();
  emits[0]?.({ kind: 'delete', node: 'john' });
  releases[0]?.();
  await stopping;
  await tick(5);
  assert.deepEqual(judged, [], 'no judgement after stop()');
  watch.start();
  assert.equal(watch.quickProbeMs('john', 'unavailable', 3000, true), null, 'no lapse carried into the next stream');
  const again = watch.stop();
  releases[1]?.();
  await again;
});

test('stop() does not hang on a close etcd never confirms', async () => {
  const source: MasterLeaseEventSource = { open: () => () => new Promise<void>(() => undefined) };
  const watch = new MasterLeaseWatch({
    source,
    view: () => ({ leading: true, master: 'john', topologyChangeRunning: false, onHold: false, agentLease: true }),
    judge: async () => 'judged',
    log: new EventLog({ file: null, tailSize: 10, verbose: false }),
    closeWaitMs: 20,
  });
  watch.start();
  await watch.stop();
  assert.equal(watch.running, false);
});

test("the judgement gets the delete's revision (the crash statement is read as of it); none from the source → null", async () => {
  const { source, streams } = fakeSource();
  const lapses: (string | null)[] = [];
  const watch = new MasterLeaseWatch({
    source,
    view: () => ({ leading: true, master: 'john', topologyChangeRunning: false, onHold: false, agentLease: true }),
    judge: async (_master, revision) => (lapses.push(revision), 'judged'),
    log: new EventLog({ file: null, tailSize: 100, verbose: false }),
  });
  watch.start();
  streams[0]?.emit({ kind: 'delete', node: 'john', revision: '41' });
  await tick();
  streams[0]?.emit({ kind: 'put', node: 'john', revision: '42' });
  streams[0]?.emit({ kind: 'delete', node: 'john' });
  await tick();
  assert.deepEqual(lapses, ['41', null]);
  await watch.stop();
});
