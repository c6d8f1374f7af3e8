/**
 * Issue 14: the agent's member record names every step of its boot, and a command queued behind a
 * long one (a copy, a rewind, an initdb) is answered busy at once:
 *   - answeredBusyBehind (src/agent/boot-step.ts): which steps;
 *   - bootRecord / BootStepKeeper (src/agent/boot-step-keeper.ts): `boot_step` in the record, a long
 *     step's beginning and end written at once, a short one's not;
 *   - bootStepOf / busyBehindBootStep (src/nodes/boot-step-busy.ts), also over an older agent's
 *     record (`boot_copy` only), and the controller's waiting loop (agent-shell.ts);
 *   - BootRunner: told the rewind before it begins (test/unit/agent-boot-copy.test.ts);
 *   - memberFields (src/store/etcd/member-json.ts): the one parser of both readers.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BootStepKeeper, bootRecord } from '../../src/agent/boot-step-keeper.js';
import { answeredBusyBehind, BOOT_LOCK_LABEL, BOOT_STEP_NAMES, type BootStep, type BootStepName } from '../../src/agent/boot-step.js';
import type { MemberRecord } from '../../src/agent/member-record.js';
import { HandyRepError } from '../../src/model/errors.js';
import { bootStepOf, busyBehindBootStep } from '../../src/nodes/boot-step-busy.js';
import { etcdKeys } from '../../src/store/etcd/keys.js';
import { memberFields } from '../../src/store/etcd/member-json.js';
import { parseMemberView } from '../../src/store/etcd/member-view.js';
import { FAKE_PREFIX, fakeAgentShell } from '../fixtures/fake-agent-shell.js';

const SINCE = '2026-12-05T04:00:00.000Z';
const step = (name: BootStepName, source: string | null = name === 'copy' || name === 'rewind' ? 'john' : null): BootStep => ({ step: name, source, master: 'john', since: SINCE, reclone: false });
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('answeredBusyBehind: which boot steps a queued command is answered busy behind', () => {
  const rows: [BootStepName, boolean][] = [
    ['copy', true],
    ['rewind', true],
    ['initdb', true],
    ['standby_settings', false],
    ['start', false],
  ];
  for (const [name, busy] of rows) it(`${name}: ${busy ? 'busy at once' : 'waits'}`, () => assert.equal(answeredBusyBehind(name), busy));
  it('every step has a row', () => assert.deepEqual([...BOOT_STEP_NAMES].sort(), rows.map(([n]) => n).sort()));
});

describe('bootRecord: boot_step names the step', () => {
  it('a rewind: boot_step, no boot_copy, still a stopped record', () => {
    const record = bootRecord('paul', null, step('rewind'), 'x');
    assert.deepEqual(record.boot_step, { step: 'rewind', since: SINCE, source: 'john', reclone: false });
    assert.equal(record.boot_copy, null);
    assert.deepEqual([record.postgres, record.recorded_master], ['stopped', 'john']);
  });
  it('a copy: boot_step and boot_copy (what older controllers read)', () => {
    const record = bootRecord('paul', null, { ...step('copy'), reclone: true }, 'x');
    assert.deepEqual(record.boot_step, { step: 'copy', since: SINCE, source: 'john', reclone: true });
    assert.deepEqual(record.boot_copy, { source: 'john', since: SINCE, reclone: true });
  });
  it('no step: both null', () => {
    const record = bootRecord('paul', 'george', null, 'x');
    assert.deepEqual([record.boot_step, record.boot_copy, record.recorded_master], [null, null, 'george']);
  });
  it('the master position the agent last published is kept (the election reads it from every member), not the facts\' revision', () => {
    const position = { receiver_streaming_at: 'a', master_seen_at: 'b', master_lsn_seen: '0/5000000', master_lsn_seen_for: 'john/7', master_timeline_seen: 3, facts_after_revision: '42' };
    const record = bootRecord('paul', null, step('rewind'), 'x', position);
    assert.deepEqual([record.master_lsn_seen, record.master_lsn_seen_for, record.master_timeline_seen, record.receiver_streaming_at, record.master_seen_at], ['0/5000000', 'john/7', 3, 'a', 'b']);
    assert.equal(record.facts_after_revision, undefined);
    assert.equal(record.postgres, 'stopped');
  });
});

describe('bootStepOf: the step a member record names', () => {
  const rows: [string, string | null, ReturnType<typeof bootStepOf>][] = [
    ['no record', null, null],
    ['a JSON array', '[1]', null],
    ['an ordinary record', '{"name":"paul","postgres":"running"}', null],
    ['boot_step null, boot_copy null (a newer agent between steps)', '{"boot_step":null,"boot_copy":null}', null],
    ['a rewind', `{"boot_step":{"step":"rewind","since":"${SINCE}","source":"john","reclone":false}}`, { step: 'rewind', since: SINCE, source: 'john', reclone: false }],
    ['a start (no source)', `{"boot_step":{"step":"start","since":"${SINCE}","source":null,"reclone":false}}`, { step: 'start', since: SINCE, source: null, reclone: false }],
    ['a step this controller does not know', `{"boot_step":{"step":"defrag","since":"${SINCE}","source":null,"reclone":false}}`, null],
    ['a malformed source', `{"boot_step":{"step":"rewind","since":"${SINCE}","source":7,"reclone":false}}`, null],
    ['reclone missing', `{"boot_step":{"step":"rewind","since":"${SINCE}","source":"john"}}`, null],
    ['an older agent: boot_copy only', `{"boot_copy":{"source":"john","since":"${SINCE}","reclone":true}}`, { step: 'copy', since: SINCE, source: 'john', reclone: true }],
  ];
  for (const [name, text, expected] of rows) it(name, () => assert.deepEqual(bootStepOf(text), expected));
  it('the text shown is short and printable', () => {
    const read = bootStepOf(JSON.stringify({ boot_step: { step: 'rewind', since: 'z', source: `x\n${'y'.repeat(100)}`, reclone: false } }));
    assert.equal(read?.source?.length, 64);
    assert.ok(!read?.source?.includes('\n'));
  });
});

describe('busyBehindBootStep', () => {
  const fact = (name: BootStepName) => bootStepOf(JSON.stringify(bootRecord('paul', null, step(name), 'x')));
  it('a queued command behind the rewind: busy, naming it', () => {
    assert.equal(
      busyBehindBootStep('paul', BOOT_LOCK_LABEL, false, fact('rewind')),
      `busy: boot rewind since ${SINCE} (the agent's boot rewinds paul to follow john: the master's CHECKPOINT, then pg_rewind; PostgreSQL is not running there until it ends); nothing run, not waited for`,
    );
  });
  it('behind the copy: the message older controllers gave', () => {
    assert.match(busyBehindBootStep('paul', BOOT_LOCK_LABEL, false, fact('copy')) ?? '', new RegExp(`^busy: boot copy since ${SINCE} \\(the agent's boot clones john onto paul;`));
  });
  it('behind initdb: busy', () => assert.match(busyBehindBootStep('paul', BOOT_LOCK_LABEL, false, fact('initdb')) ?? '', /^busy: boot initdb since .*creates a new cluster on paul/));
  it('behind the standby settings or the start: waits', () => {
    assert.equal(busyBehindBootStep('paul', BOOT_LOCK_LABEL, false, fact('standby_settings')), null);
    assert.equal(busyBehindBootStep('paul', BOOT_LOCK_LABEL, false, fact('start')), null);
  });
  it('not queued, or started: no busy answer', () => {
    assert.equal(busyBehindBootStep('paul', null, false, fact('rewind')), null);
    assert.equal(busyBehindBootStep('paul', BOOT_LOCK_LABEL, true, fact('rewind')), null);
  });
  it('queued behind another command while the member record (stale: a killed agent\'s, a late write) says rewind: waits', () => {
    assert.equal(busyBehindBootStep('paul', 'command 0000000000001-abc (pg_ctl)', false, fact('rewind')), null);
    assert.equal(busyBehindBootStep('paul', 'command 0000000000001-abc', false, fact('copy')), null);
  });
});

describe('memberFields: the one parser of member records', () => {
  const rows: [string, string | null, boolean][] = [
    ['absent', null, false],
    ['not JSON', '{', false],
    ['a string', '"x"', false],
    ['null', 'null', false],
    ['an array', '[]', false],
    ['an object', '{"name":"paul"}', true],
  ];
  for (const [name, text, ok] of rows) it(name, () => assert.equal(memberFields(text) !== null, ok));
  it('parseMemberView reads through it (an array is no record)', () => {
    assert.equal(parseMemberView('[]'), null);
    assert.equal(parseMemberView('{"name":"paul","postgres":"stopped","boot_step":{"step":"rewind"}}')?.postgres, 'stopped');
  });
});

describe('BootStepKeeper: boot steps in the member record', () => {
  const keeper = () => {
    const written: MemberRecord[] = [];
    const k = new BootStepKeeper({ node: 'paul', intervalMs: 10_000, renew: async () => true, write: async (r) => void written.push(r), recordedMaster: () => 'john', log: () => undefined });
    return { k, written };
  };

  it('a rewind beginning is written at once; leaving it for the standby settings too; the start is not', async () => {
    const { k, written } = keeper();
    k.hold();
    k.step(step('rewind'));
    await k.settled();
    assert.deepEqual(written.map((r) => r.boot_step?.step ?? null), ['rewind']);
    k.step(step('standby_settings'));
    await k.settled();
    assert.deepEqual(written.map((r) => r.boot_step?.step ?? null), ['rewind', 'standby_settings']);
    k.step(null);
    k.step(step('start'));
    await k.settled();
    assert.equal(written.length, 2, 'a short step waits for the periodic write');
    k.release();
    await k.settled();
    assert.equal(written.length, 2, 'no long step left to end: the round publishes');
  });

  it('released during a written rewind: its end is written (a queued command may start after it)', async () => {
    const { k, written } = keeper();
    k.hold();
    k.step(step('rewind'));
    await k.settled();
    k.release();
    await k.settled();
    assert.deepEqual(written.map((r) => r.boot_step?.step ?? null), ['rewind', null]);
  });

  it('the keeper writes the agent\'s last published master position into the boot record', async () => {
    const written: MemberRecord[] = [];
    const position = { receiver_streaming_at: null, master_seen_at: null, master_lsn_seen: '0/5000000', master_lsn_seen_for: 'john/7', master_timeline_seen: 2 };
    const k = new BootStepKeeper({ node: 'paul', intervalMs: 10_000, renew: async () => true, write: async (r) => void written.push(r), recordedMaster: () => 'john', position: () => position, log: () => undefined });
    k.hold();
    k.step(step('rewind'));
    await k.settled();
    k.release();
    await k.settled();
    assert.deepEqual(written.map((r) => [r.boot_step?.step ?? null, r.master_lsn_seen, r.master_lsn_seen_for]), [['rewind', '0/5000000', 'john/7'], [null, '0/5000000', 'john/7']]);
  });

  it('the periodic write names a short step', async () => {
    const written: MemberRecord[] = [];
    const k = new BootStepKeeper({ node: 'paul', intervalMs: 30, renew: async () => true, write: async (r) => void written.push(r), recordedMaster: () => 'john', log: () => undefined });
    k.hold();
    k.step(step('start'));
    await sleep(80);
    k.release();
    await k.settled();
    assert.ok(written.length >= 1 && written.every((r) => r.boot_step?.step === 'start'), JSON.stringify(written.map((r) => r.boot_step)));
  });
});

describe('AgentShell: a command queued behind a boot step', () => {
  const keys = etcdKeys(FAKE_PREFIX);
  const queuedBehindBoot = (member: MemberRecord, answerAfterMs: number | null, behind = BOOT_LOCK_LABEL) =>
    fakeAgentShell('paul', [[keys.member('paul'), JSON.stringify(member)]], (kv, key, record) => {
      kv.set(key, JSON.stringify({ ...record, queued: { behind, at: 'x' } }));
      if (answerAfterMs === null) return;
      const result = { exit_code: 0, stdout: 'pg_ctl: server is running', stderr: '', timed_out: false, duration_ms: 5, refused: null };
      setTimeout(() => void kv.set(key, JSON.stringify({ ...record, started: { by: 'agent', at: 'x' }, result })), answerAfterMs);
    });
  const status = ['/usr/lib/postgresql/15/bin/pg_ctl', '-D', '/srv/pg/paul', '-w', '-t', '60', 'status'];

  it('behind the rewind: refused busy at once, the record deleted', async () => {
    const { shell, kv } = queuedBehindBoot(bootRecord('paul', null, step('rewind'), 'x'), null);
    const t0 = performance.now();
    // A limit the test outlives (20 s): without the busy answer it would fail on its message, not hang.
    await assert.rejects(
      shell.run(status, { timeoutMs: 20_000 }),
      (err: unknown) => err instanceof HandyRepError && err.code === 'CONTROL_CHANNEL' && err.message.includes(`pg_ctl refused (busy): busy: boot rewind since ${SINCE} (the agent's boot rewinds paul`),
    );
    assert.ok(performance.now() - t0 < 3000, 'not at its time limit');
    assert.equal([...kv.keys()].some((k) => k.includes('/commands/')), false);
  });

  it('queued behind another command, the member record (stale) saying rewind: waited for, its answer returned', async () => {
    const { shell } = queuedBehindBoot(bootRecord('paul', null, step('rewind'), 'x'), 1500, 'command 0000000000001-abc (pg_ctl)');
    const result = await shell.run(status, { timeoutMs: 10_000 });
    assert.deepEqual([result.exitCode, result.stdout], [0, 'pg_ctl: server is running']);
  });

  it('behind the start: waited for, its answer returned', async () => {
    const { shell } = queuedBehindBoot(bootRecord('paul', null, step('start'), 'x'), 1500);
    const result = await shell.run(status, { timeoutMs: 10_000 });
    assert.deepEqual([result.exitCode, result.stdout], [0, 'pg_ctl: server is running']);
  });
});
