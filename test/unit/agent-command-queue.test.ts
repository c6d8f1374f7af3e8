/**
 * The agent's commands run one at a time, in id order, never while the agent's boot holds the node
 * (node-lock.ts): a command that must wait is marked `queued` (the controller then waits past its
 * pickup time) and is answered `busy` if it has not started within its own timeout.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { CommandRecord } from '../../src/agent/commands/command-record.js';
import { CommandExecutor } from '../../src/agent/commands/executor.js';
import { NodeLock } from '../../src/agent/commands/node-lock.js';
import { config, FakeStore } from '../fixtures/agent-commands.js';

const record = (id: string, timeoutMs = 5000): CommandRecord => ({
  command: { id, node: 'john', term: '42', controller: 'ctl', written_at: '2026-01-01T00:00:00Z', timeout_ms: timeoutMs, request: { action: 'controldata' }, stdin: null },
  started: null,
  result: null,
});

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function setup(runMs: number, lock = new NodeLock()) {
  const store = new FakeStore();
  const spans: { id: string; start: number; end: number }[] = [];
  let running = 0;
  let overlap = false;
  const executor = new CommandExecutor(config, 'john', {
    store,
    processId: 'agent-1',
    log: () => undefined,
    rescanMs: 60_000,
    lock,
    run: async () => {
      running += 1;
      if (running > 1) overlap = true;
      const start = performance.now();
      await sleep(runMs);
      running -= 1;
      spans.push({ id: '', start, end: performance.now() });
      return { exitCode: 0, stdout: '', stderr: '', timedOut: false, durationMs: runMs };
    },
  });
  return { store, spans, executor, overlap: () => overlap };
}

async function until(what: string, check: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

describe('CommandExecutor: one command at a time, in order, never during the boot', () => {
  it('three commands arriving at once run one after the other, in id order; the waiting ones are marked queued', async () => {
    const { store, executor, overlap } = setup(60);
    await executor.start();
    store.put('c3', record('c3'));
    store.put('c1', record('c1'));
    store.put('c2', record('c2'));
    await until('three answers', () => ['c1', 'c2', 'c3'].every((id) => store.record(id)?.result != null));
    await executor.stop();
    assert.equal(overlap(), false, 'never two at once');
    const started = ['c1', 'c2', 'c3'].map((id) => Date.parse(store.record(id)?.started?.at ?? ''));
    // c3 arrived first and may have started before the others were seen; c1 and c2 then run in order.
    assert.ok(started[0] as number <= (started[1] as number), 'c1 before c2');
    const queued = ['c1', 'c2', 'c3'].filter((id) => store.record(id)?.queued != null);
    assert.ok(queued.length >= 2, `at least two were made to wait (queued: ${queued.join(', ')})`);
    assert.match(store.record('c2')?.queued?.behind ?? '', /^command c[13]/);
  });

  it('a command that cannot start within its timeout is answered busy, and never runs late', async () => {
    const { store, executor } = setup(400);
    await executor.start();
    store.put('a1', record('a1', 5000));
    await until('a1 started', () => store.record('a1')?.started != null);
    store.put('a2', record('a2', 100));
    await until('a1 answered', () => store.record('a1')?.result != null);
    await executor.stop();
    const answer = store.record('a2')?.result;
    assert.equal(answer?.refused?.kind, 'busy');
    assert.match(answer?.refused?.message ?? '', /busy: not started within its timeout \(100 ms\): it waited since \S+ behind command a1 \(controldata\); nothing run/);
    assert.equal(store.record('a2')?.started, null, 'never started');
  });

  it("while the agent's boot holds the node a command waits (queued behind the boot), and runs once it is released", async () => {
    const lock = new NodeLock();
    const release = lock.tryEnter("the agent's boot (role discovery)") as () => void;
    const { store, executor } = setup(10, lock);
    await executor.start();
    store.put('b1', record('b1'));
    await until('b1 queued', () => store.record('b1')?.queued != null);
    assert.equal(store.record('b1')?.queued?.behind, "the agent's boot (role discovery)");
    await sleep(100);
    assert.equal(store.record('b1')?.started, null, 'not started while the boot runs');
    release();
    await until('b1 answered', () => store.record('b1')?.result != null);
    assert.equal(store.record('b1')?.result?.exit_code, 0);
    await executor.stop();
  });

  it("stop() does not wait for the boot: a command waiting for it is left unrun, and the lock is not kept", async () => {
    const lock = new NodeLock();
    const release = lock.tryEnter('boot') as () => void;
    const { store, executor } = setup(10, lock);
    await executor.start();
    store.put('e1', record('e1'));
    await until('e1 queued', () => store.record('e1')?.queued != null);
    await executor.stop();
    assert.equal(store.record('e1')?.started, null, 'never started');
    release();
    await sleep(10);
    assert.equal(lock.holder(), null, 'the lock granted late went straight back');
  });

  it('the boot does not start while a command runs (it tries the lock, never waits)', async () => {
    const lock = new NodeLock();
    const { store, executor } = setup(200, lock);
    await executor.start();
    store.put('d1', record('d1'));
    await until('d1 started', () => store.record('d1')?.started != null);
    assert.equal(lock.tryEnter('boot'), null, 'the boot is kept out');
    assert.match(lock.holder()?.label ?? '', /^command d1/);
    await until('d1 answered', () => store.record('d1')?.result != null);
    await until('lock free', () => lock.holder() === null);
    const again = lock.tryEnter('boot');
    assert.notEqual(again, null, 'free again after the command');
    again?.();
    await executor.stop();
  });
});

describe("CommandExecutor: a long command's progress", () => {
  it('is written into the record while it runs (compare-and-set on the latest revision), and kept with the result', async () => {
    const store = new FakeStore();
    const seen: (number | null)[] = [];
    const executor = new CommandExecutor(config, 'john', {
      store,
      processId: 'agent-1',
      log: () => undefined,
      progressEveryMs: 0,
      run: async (_step, _timeoutMs, progress) => {
        for (const done of [10, 20, 30]) {
          progress?.(done, 30);
          await sleep(5);
          seen.push(store.record('p1')?.progress?.bytes_done ?? null);
        }
        return { exitCode: 0, stdout: 'copied', stderr: '', timedOut: false, durationMs: 15 };
      },
    });
    store.put('p1', record('p1'));
    await executor.scan();
    assert.deepEqual(seen, [10, 20, 30], 'each report visible in the record while it ran');
    const answered = store.record('p1');
    assert.deepEqual([answered?.result?.stdout, answered?.progress?.bytes_done, answered?.progress?.bytes_total], ['copied', 30, 30]);
  });

  it('reports closer together than progressEveryMs are dropped', async () => {
    const store = new FakeStore();
    let writes = 0;
    const executor = new CommandExecutor(config, 'john', {
      store,
      processId: 'agent-1',
      log: () => undefined,
      progressEveryMs: 60_000,
      run: async (_step, _timeoutMs, progress) => {
        for (let i = 0; i < 50; i++) progress?.(i, 50);
        return { exitCode: 0, stdout: '', stderr: '', timedOut: false, durationMs: 1 };
      },
    });
    const replace = store.replace.bind(store);
    store.replace = async (id, mod, value, term) => (JSON.parse(value).progress && !JSON.parse(value).result ? (writes += 1) : 0, replace(id, mod, value, term));
    store.put('p2', record('p2'));
    await executor.scan();
    assert.equal(writes, 1, 'one progress write');
    assert.equal(store.record('p2')?.progress?.bytes_done, 0);
  });
});

describe('CommandExecutor: a clone is cancelled by deleting its record', () => {
  const cloneRecord = (id: string): CommandRecord => ({
    ...record(id),
    command: { ...record(id).command, request: { action: 'clone', source: 'paul', upstream: 'paul', old_data: 'none', restore_command: false } },
  });
  it('the running step sees its signal aborted once the record is gone; other steps get none', async () => {
    const store = new FakeStore();
    const signals: (AbortSignal | undefined)[] = [];
    const executor = new CommandExecutor(config, 'john', {
      store,
      processId: 'agent-1',
      log: () => undefined,
      cancelPollMs: 10,
      run: async (_step, _timeoutMs, _progress, signal) => {
        signals.push(signal);
        if (signal === undefined) return { exitCode: 0, stdout: '', stderr: '', timedOut: false, durationMs: 1 };
        store.kv.delete('k1');
        await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
        return { exitCode: 1, stdout: '', stderr: 'cancelled', timedOut: false, durationMs: 1 };
      },
    });
    store.master = 'paul';
    store.put('k0', record('k0'));
    store.put('k1', cloneRecord('k1'));
    await executor.scan();
    assert.equal(signals[0], undefined, 'controldata: no cancel signal');
    assert.equal(signals[1]?.aborted, true, 'the clone was told to stop');
    assert.equal(store.record('k1'), null, 'no answer written to a deleted record');
  });
});

describe('CommandExecutor: urgent commands and the master', () => {
  it('N7: a stop or promote waiting goes before the earlier waiting commands (after the running one)', async () => {
    const { store, executor } = setup(80);
    const order: string[] = [];
    await executor.start();
    store.put('q1', record('q1'));
    await until('q1 started', () => store.record('q1')?.started != null);
    store.put('q2', record('q2'));
    store.put('q3', { ...record('q3'), command: { ...record('q3').command, request: { action: 'pg_ctl', op: 'stop', wait_s: 5 } } });
    await until('all answered', () => ['q1', 'q2', 'q3'].every((id) => store.record(id)?.result != null), 5000);
    await executor.stop();
    for (const id of ['q1', 'q2', 'q3']) order.push(`${store.record(id)?.started?.at ?? ''} ${id}`);
    assert.deepEqual(order.sort().map((line) => line.split(' ')[1]), ['q1', 'q3', 'q2']);
  });

  it('S2: a clone or rewind of the node the master key names is refused and nothing runs', async () => {
    const store = new FakeStore();
    let ran = 0;
    const guarded = new CommandExecutor(config, 'john', { store, processId: 'x', log: () => undefined, run: async () => ((ran += 1), { exitCode: 0, stdout: '', stderr: '', timedOut: false, durationMs: 1 }) });
    store.master = 'john';
    store.put('m1', { ...record('m1'), command: { ...record('m1').command, request: { action: 'clone', source: 'paul', upstream: 'paul', old_data: 'delete', restore_command: false } } });
    store.put('m2', { ...record('m2'), command: { ...record('m2').command, request: { action: 'rewind', source: 'paul' } } });
    await guarded.scan();
    assert.equal(ran, 0);
    for (const id of ['m1', 'm2']) {
      assert.equal(store.record(id)?.result?.refused?.kind, 'invalid', id);
      assert.match(store.record(id)?.result?.refused?.message ?? '', /refused, the master key names this node \(john\)/);
    }
  });
});

describe('NodeLock', () => {
  it('first come, first served; a release twice is harmless; tryEnter never jumps the line', async () => {
    const lock = new NodeLock();
    const order: string[] = [];
    const r1 = lock.tryEnter('a') as () => void;
    const p2 = lock.enter('b').then((r) => (order.push('b'), r));
    const p3 = lock.enter('c').then((r) => (order.push('c'), r));
    r1();
    assert.equal(lock.tryEnter('x'), null, 'b holds or waits: nobody jumps the line');
    const r2 = await p2;
    r2();
    r2();
    const r3 = await p3;
    assert.deepEqual(order, ['b', 'c']);
    r3();
    assert.equal(lock.holder(), null);
  });
});
