/**
 * The controller's side of control_method agent (nodes/agent-shell.ts) over an in-memory etcd:
 * what is written (term-guarded, one record per command), how the agent's answer maps back, and the
 * timeout semantics (no pickup → CONTROL_CHANNEL like an unreachable ssh host; record deleted).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { EtcdContext } from '../../src/store/etcd/client.js';
import { etcdKeys } from '../../src/store/etcd/keys.js';
import type { LeadershipGuard } from '../../src/store/etcd/guarded-txn.js';
import { HandyRepError } from '../../src/model/errors.js';
import { AgentShell, type AgentChannel } from '../../src/nodes/agent-shell.js';
import { CommandIds, parseCommandRecord, type CommandRecord, type ResultPart } from '../../src/agent/commands/command-record.js';
import { RevisionedMap } from '../fixtures/revisioned-map.js';

const PREFIX = '/handyrep/t/';

/** Just the etcd calls AgentShell makes: a guarded put (txn), kv.range, get().string(), delete().key().exec(). */
type Txn = { compare: { key: Buffer; target: string; create_revision?: string }[]; success: { request_put?: { key: Buffer; value: Buffer; lease?: string } }[] };

function fakeEtcd(onPut: (key: string, record: CommandRecord, kv: Map<string, string>) => void, txnSucceeds = true, afterApply: (() => void) | null = null) {
  const kv = new RevisionedMap();
  const deleted: string[] = [];
  const txns: Txn[] = [];
  const client = {
    kv: {
      range: async (request: { key: Buffer }) => kv.range(request.key),
      txn: async (request: Txn) => {
        txns.push(request);
        if (!txnSucceeds) return { succeeded: false, responses: [{ response_range: { kvs: [] } }], header: { revision: '9' } };
        for (const op of request.success) {
          if (op.request_put) {
            const key = op.request_put.key.toString();
            kv.set(key, op.request_put.value.toString());
            onPut(key, parseCommandRecord(key, op.request_put.value.toString()), kv);
          }
        }
        afterApply?.();
        return { succeeded: true, responses: [], header: { revision: '10' } };
      },
    },
    get: (key: string) => ({ string: async () => kv.get(key) ?? null }),
    delete: () => ({
      key: (key: string) => ({
        exec: async () => {
          deleted.push(key);
          kv.delete(key);
        },
      }),
    }),
  };
  const ctx = { client, keys: etcdKeys(PREFIX), deadlineMs: 1000 } as unknown as EtcdContext;
  return { ctx, kv, deleted, txns };
}

const term = { term: '42', leaseId: '7', record: { controller_id: 'ctl-a', api_url: null, since: 'x' }, value: '{}' };
const leading = (held = true): LeadershipGuard & { lost: string[] } => {
  const lost: string[] = [];
  return { current: held ? term : null, markLost: (reason: string) => lost.push(reason), lost };
};

function channel(ctx: EtcdContext, leadership: LeadershipGuard, pickupMs = 300): AgentChannel {
  return {
    ctx,
    leadership,
    controllerId: 'ctl-a',
    pickupMs,
    pollMs: 5,
    ids: new CommandIds(() => 1000, () => 'x'),
    identify: () => ({ testCommand: ['true'], archiveDirectory: null, noArchiveFile: '/nope', serverAt: () => null }),
  };
}

/** An agent that answers every record with `result` after `delayMs`. */
const answering = (result: ResultPart, delayMs = 20) => (key: string, record: CommandRecord, kv: Map<string, string>) => {
  setTimeout(() => kv.set(key, JSON.stringify({ ...record, started: { by: 'agent', at: 'x' }, result })), delayMs);
};
const ok: ResultPart = { exit_code: 0, stdout: 'server stopped', stderr: '', timed_out: false, duration_ms: 12, refused: null };

describe('AgentShell', () => {
  it('writes one record under the term (action, typed parameters, no argv) and returns the answer as a NodeShell result; the record is deleted', async () => {
    const written: CommandRecord[] = [];
    const { ctx, kv, deleted } = fakeEtcd((key, record, store) => {
      written.push(record);
      answering(ok)(key, record, store);
    });
    const shell = new AgentShell('john', channel(ctx, leading()));
    const result = await shell.run(['/usr/lib/postgresql/16/bin/pg_ctl', '-D', '/srv/pg', 'status'], { timeoutMs: 5000 });
    assert.deepEqual(result, { exitCode: 0, stdout: 'server stopped', stderr: '', timedOut: false, durationMs: 12 });
    assert.equal(written.length, 1);
    const command = written[0]?.command;
    assert.deepEqual({ node: command?.node, term: command?.term, controller: command?.controller, request: command?.request, timeout: command?.timeout_ms }, { node: 'john', term: '42', controller: 'ctl-a', request: { action: 'pg_ctl', op: 'status', wait_s: 60, expect: { pg_ctl_dir: '/srv/pg' } }, timeout: 5000 });
    assert.doesNotMatch(JSON.stringify(written[0]), /bin\/pg_ctl|"argv"/, 'no argv travels (the folder only as an expectation the agent compares)');
    assert.deepEqual(deleted, [`${PREFIX}commands/john/00000000001000000-x`]);
    assert.equal(kv.size, 0);
  });

  it('the send is create-only, under the leader\'s lease (it vanishes with the term)', async () => {
    const { ctx, txns } = fakeEtcd(answering(ok));
    await new AgentShell('john', channel(ctx, leading())).run(['true'], { timeoutMs: 1000 });
    const key = `${PREFIX}commands/john/00000000001000000-x`;
    const createOnly = txns[0]?.compare.find((c) => c.key.toString() === key);
    assert.deepEqual({ target: createOnly?.target, rev: createOnly?.create_revision }, { target: 'Create', rev: '0' });
    assert.ok(txns[0]?.compare.some((c) => c.key.toString() === `${PREFIX}leader`), 'and guarded by the term');
    assert.equal(txns[0]?.success[0]?.request_put?.lease, '7');
  });

  it('a send applied but answered late (etcd deadline) is deleted all the same', async () => {
    const { ctx, kv, deleted } = fakeEtcd(() => undefined, true, () => {
      throw new Error('deadline exceeded');
    });
    await assert.rejects(new AgentShell('john', channel(ctx, leading())).run(['true'], { timeoutMs: 1000 }));
    assert.deepEqual(deleted, [`${PREFIX}commands/john/00000000001000000-x`]);
    assert.equal(kv.size, 0);
  });

  it('an argv that is not a table action is refused before anything is written', async () => {
    const written: string[] = [];
    const { ctx } = fakeEtcd((key) => written.push(key));
    const shell = new AgentShell('john', channel(ctx, leading()));
    await assert.rejects(shell.run(['pg_basebackup', '-D', '/srv/pg'], { timeoutMs: 1000 }), (err: unknown) => err instanceof HandyRepError && err.code === 'CONTROL_CHANNEL' && /pg_basebackup is not a node action an agent runs/.test(err.message));
    await assert.rejects(shell.run(['true'], { timeoutMs: 1000, env: { A: 'b' } }), (err: unknown) => err instanceof HandyRepError && err.code === 'CONTROL_CHANNEL');
    assert.deepEqual(written, []);
  });

  it('not leading → NOT_LEADER, nothing written; a guarded write that fails → NOT_LEADER and the loss reported', async () => {
    const written: string[] = [];
    const { ctx } = fakeEtcd((key) => written.push(key));
    await assert.rejects(new AgentShell('john', channel(ctx, leading(false))).run(['true'], { timeoutMs: 1000 }), (err: unknown) => err instanceof HandyRepError && err.code === 'NOT_LEADER');
    const deposed = fakeEtcd(() => undefined, false);
    const guard = leading();
    await assert.rejects(new AgentShell('john', channel(deposed.ctx, guard)).run(['true'], { timeoutMs: 1000 }), (err: unknown) => err instanceof HandyRepError && err.code === 'NOT_LEADER');
    assert.equal(guard.lost.length, 1);
    assert.deepEqual(written, []);
  });

  it('no agent takes it within the pickup time → CONTROL_CHANNEL (as an unreachable ssh host), record deleted', async () => {
    const { ctx, kv, deleted } = fakeEtcd(() => undefined);
    const started = performance.now();
    await assert.rejects(new AgentShell('john', channel(ctx, leading(), 200)).run(['true'], { timeoutMs: 60_000 }), (err: unknown) => err instanceof HandyRepError && err.code === 'CONTROL_CHANNEL' && /the agent did not take test within 200 ms/.test(err.message));
    assert.ok(performance.now() - started < 5000, 'the pickup time, not the command timeout');
    assert.equal(deleted.length, 1);
    assert.equal(kv.size, 0);
  });

  it('taken but never answered → CONTROL_CHANNEL after its timeout plus the pickup margin', async () => {
    const { ctx, deleted } = fakeEtcd((key, record, kv) => kv.set(key, JSON.stringify({ ...record, started: { by: 'agent', at: 'x' } })));
    await assert.rejects(new AgentShell('john', channel(ctx, leading(), 100)).run(['true'], { timeoutMs: 100 }), (err: unknown) => err instanceof HandyRepError && err.code === 'CONTROL_CHANNEL' && /took test but gave no result within 200 ms/.test(err.message));
    assert.equal(deleted.length, 1);
  });

  it('refusals map to errors: stale term → NOT_LEADER, invalid → CONTROL_CHANNEL with the reason', async () => {
    const rows: [ResultPart['refused'], string, RegExp][] = [
      [{ kind: 'stale_term', message: 'stale term: written under 41' }, 'NOT_LEADER', /refused \(stale_term\): stale term: written under 41/],
      [{ kind: 'invalid', message: 'invalid command: op: bad' }, 'CONTROL_CHANNEL', /refused \(invalid\): invalid command: op: bad/],
    ];
    for (const [refused, code, message] of rows) {
      const { ctx } = fakeEtcd(answering({ ...ok, exit_code: null, refused }));
      await assert.rejects(new AgentShell('john', channel(ctx, leading())).run(['true'], { timeoutMs: 1000 }), (err: unknown) => err instanceof HandyRepError && err.code === code && message.test(err.message));
    }
  });

  it('runAction sends the rewind as one action naming the source server', async () => {
    const written: CommandRecord[] = [];
    const { ctx } = fakeEtcd((key, record, kv) => {
      written.push(record);
      answering(ok)(key, record, kv);
    });
    await new AgentShell('paul', channel(ctx, leading())).runAction({ action: 'rewind', source: 'john' }, 120_000);
    assert.deepEqual(written[0]?.command.request, { action: 'rewind', source: 'john' });
  });

  it('a record the agent marked queued is waited for past the pickup time (up to its timeout more)', async () => {
    const { ctx } = fakeEtcd((key, record, kv) => {
      kv.set(key, JSON.stringify({ ...record, queued: { behind: 'command c0 (clone)', at: 'x' } }));
      setTimeout(() => kv.set(key, JSON.stringify({ ...record, started: { by: 'agent', at: 'x' }, result: ok })), 300);
    });
    const result = await new AgentShell('john', channel(ctx, leading(), 100)).run(['true'], { timeoutMs: 1000 });
    assert.equal(result.stdout, 'server stopped', 'answered although it started after the 100 ms pickup time');
  });

  it("a clone's progress in the record reaches the caller; a cancel deletes the record and fails the action", async () => {
    const seen: [number | null, number | null][] = [];
    const progressing = fakeEtcd((key, record, kv) => {
      const started = { ...record, started: { by: 'agent', at: 'x' } };
      setTimeout(() => kv.set(key, JSON.stringify({ ...started, progress: { bytes_done: 5, bytes_total: 10, at: 'p1' } })), 20);
      setTimeout(() => kv.set(key, JSON.stringify({ ...started, progress: { bytes_done: 10, bytes_total: 10, at: 'p2' }, result: ok })), 80);
    });
    const clone = { action: 'clone', source: 'john', upstream: 'john', old_data: 'none', restore_command: false } as const;
    await new AgentShell('paul', channel(progressing.ctx, leading())).runAction(clone, 60_000, (done, total) => seen.push([done, total]));
    assert.deepEqual(seen, [[5, 10], [10, 10]]);
    const cancelled = fakeEtcd((key, record, kv) => kv.set(key, JSON.stringify({ ...record, started: { by: 'agent', at: 'x' } })));
    const abort = new AbortController();
    setTimeout(() => abort.abort(), 50);
    await assert.rejects(new AgentShell('paul', channel(cancelled.ctx, leading())).runAction(clone, 60_000, undefined, abort.signal), (err: unknown) => err instanceof HandyRepError && /clone cancelled: its record is deleted/.test(err.message));
    assert.equal(cancelled.kv.size, 0, 'the record is deleted: the agent stops the copy when it sees that');
  });
});
