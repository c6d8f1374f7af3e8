/**
 * Issue 14: a command queued behind the agent's own boot copy is answered at once, and the agent's
 * member key stays alive while a boot step holds its round:
 *   - bootRecord / BootStepKeeper (src/agent/boot-step-keeper.ts): the record written while the boot
 *     runs, by a timer of its own, `boot_copy` while it copies;
 *   - bootStepOf / busyBehindBootStep (src/nodes/boot-step-busy.ts) and the controller's waiting loop
 *     (agent-shell.ts): busy at once behind a boot copy, agent gone while waiting.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BootStepKeeper, bootRecord } from '../../src/agent/boot-step-keeper.js';
import { BOOT_LOCK_LABEL, type BootStep } from '../../src/agent/boot-step.js';
import type { MemberRecord } from '../../src/agent/member-record.js';
import { parseMemberRecord } from '../../src/agent/election/member-read.js';
import { parseMemberView } from '../../src/store/etcd/member-view.js';
import { bootStepOf, busyBehindBootStep } from '../../src/nodes/boot-step-busy.js';
import { etcdKeys } from '../../src/store/etcd/keys.js';
import type { EtcdContext } from '../../src/store/etcd/client.js';
import { FAKE_PREFIX, fakeAgentShell } from '../fixtures/fake-agent-shell.js';
import { HandyRepError } from '../../src/model/errors.js';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BootRunner } from '../../src/agent/boot-runner.js';
import type { LocalPostgres } from '../../src/agent/local-postgres.js';
import { parseConfig } from '../../src/config/load.js';
import { encodeMasterRecord } from '../../src/store/etcd/master-record.js';

const COPY: BootStep = { step: 'copy', source: 'john', master: 'john', since: '2026-12-05T01:00:00.000Z', reclone: false };
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('bootRecord: the member record while the boot runs', () => {
  it('a stopped node, the copy named; still a record for the election and the controller', () => {
    const record = bootRecord('paul', null, COPY, '2026-12-05T01:00:05.000Z');
    assert.deepEqual([record.postgres, record.role, record.recorded_master, record.boot_copy], ['stopped', null, 'john', { source: 'john', since: COPY.since, reclone: false }]);
    const text = JSON.stringify(record);
    assert.notEqual(parseMemberRecord('paul', text), null, 'the election reads it (a stopped node: never a candidate)');
    assert.equal(parseMemberView(text)?.postgres, 'stopped');
    assert.deepEqual(bootStepOf(text), { step: 'copy', source: 'john', since: COPY.since, reclone: false });
  });
  it('no copy (a rewind holds the round): boot_copy null, the last recorded master', () => {
    const record = bootRecord('paul', 'george', null, 'x');
    assert.deepEqual([record.boot_copy, record.recorded_master], [null, 'george']);
    assert.equal(bootStepOf(JSON.stringify(record)), null);
  });
});

describe('bootStepOf and busyBehindBootStep', () => {
  const rows: [string, string | null, boolean][] = [
    ['no member key', null, false],
    ['not JSON', '{', false],
    ['an ordinary record (no boot_copy)', '{"name":"paul","postgres":"running"}', false],
    ['boot_copy null', '{"name":"paul","boot_copy":null}', false],
    ['boot_copy malformed', '{"name":"paul","boot_copy":{"source":1,"since":"x","reclone":false}}', false],
    ['boot_copy present', `{"name":"paul","boot_copy":{"source":"john","since":"${COPY.since}","reclone":true}}`, true],
  ];
  for (const [name, value, copying] of rows) it(name, () => assert.equal(bootStepOf(value) !== null, copying));

  it('busy only for a command that waits (queued, not started) while the agent copies', () => {
    const copy = bootStepOf(`{"boot_copy":{"source":"john","since":"${COPY.since}","reclone":true}}`);
    assert.match(busyBehindBootStep('paul', BOOT_LOCK_LABEL, false, copy) ?? '', /^busy: boot copy since 2026-12-05T01:00:00.000Z \(the agent's boot reclones john onto paul;/);
    assert.equal(busyBehindBootStep('paul', null, false, copy), null, 'not queued: within its pickup time');
    assert.equal(busyBehindBootStep('paul', BOOT_LOCK_LABEL, true, copy), null, 'started: it runs');
    assert.equal(busyBehindBootStep('paul', BOOT_LOCK_LABEL, false, null), null, 'queued behind a command: waits');
  });
  it('text from the record is shortened and made printable', () => {
    const copy = bootStepOf(JSON.stringify({ boot_copy: { source: `x\n${'y'.repeat(100)}`, since: 'z', reclone: false } }));
    assert.equal(copy?.source?.length, 64);
    assert.ok(!copy?.source?.includes('\n'));
  });
});

describe('BootStepKeeper: the member lease and record kept by a timer of their own', () => {
  const keeper = (renewOk = true) => {
    const written: MemberRecord[] = [];
    const lines: string[] = [];
    let renewals = 0;
    const k = new BootStepKeeper({
      node: 'paul',
      intervalMs: 40,
      renew: async () => (renewals++, renewOk),
      write: async (record) => void written.push(record),
      recordedMaster: () => 'john',
      log: (line) => void lines.push(line),
    });
    return { k, written, lines, renewals: () => renewals };
  };

  it('a quick boot step writes nothing; a long one is renewed and written each interval', async () => {
    const quick = keeper();
    quick.k.hold();
    quick.k.release();
    await sleep(100);
    assert.equal(quick.written.length, 0);
    const long = keeper();
    long.k.hold();
    await sleep(150);
    long.k.release();
    await long.k.settled();
    assert.ok(long.written.length >= 2, `${long.written.length} writes`);
    assert.ok(long.written.every((r) => r.boot_copy === null && r.postgres === 'stopped'));
    const after = long.written.length;
    await sleep(100);
    assert.equal(long.written.length, after, 'none after release');
  });

  it('a copy beginning is written at once, with its start; its end too (also while a write is under way)', async () => {
    const { k, written } = keeper();
    k.hold();
    k.step(COPY);
    await k.settled();
    assert.equal(written.length, 1);
    assert.deepEqual(written[0]?.boot_copy, { source: 'john', since: COPY.since, reclone: false });
    k.step(null);
    await k.settled();
    assert.equal(written.length, 2);
    assert.equal(written[1]?.boot_copy, null);
    // Begun and ended back to back: the last write says no copy.
    k.step(COPY);
    k.step(null);
    await k.settled();
    assert.equal(written.at(-1)?.boot_copy, null);
    k.release();
  });

  it('the copy ends and the step is released while a renewal is under way: the copy\'s end is still written, nothing after it', async () => {
    const written: MemberRecord[] = [];
    const k = new BootStepKeeper({
      node: 'paul',
      intervalMs: 10_000,
      renew: () => sleep(100).then(() => true),
      write: async (record) => void written.push(record),
      recordedMaster: () => 'john',
      log: () => undefined,
    });
    k.hold();
    k.step(COPY);
    await k.settled();
    k.step(null);
    await sleep(20);
    k.release();
    await k.settled();
    assert.deepEqual(written.map((r) => r.boot_copy === null), [false, true]);
    k.hold();
    k.release();
    await k.settled();
    assert.equal(written.length, 2, 'a later quick step writes nothing');
  });

  it('a lease etcd says expired: not written, said once', async () => {
    const { k, written, lines } = keeper(false);
    k.hold();
    k.step(COPY);
    await sleep(130);
    k.release();
    await k.settled();
    assert.equal(written.length, 0);
    assert.equal(lines.length, 1);
    assert.match(lines[0] as string, /member record during the boot not written .*member lease expired/);
  });
});

describe('AgentShell: a command the agent makes wait behind its boot copy', () => {
  const keys = etcdKeys(FAKE_PREFIX);
  /** The agent marks each command queued behind its boot. */
  const setup = (member: string | null, afterQueued: (kv: Map<string, string>) => void = () => undefined) =>
    fakeAgentShell('paul', member === null ? [] : [[keys.member('paul'), member]], (kv, key, record) => {
      kv.set(key, JSON.stringify({ ...record, queued: { behind: "the agent's boot (role discovery)", at: 'x' } }));
      afterQueued(kv);
    });

  it('the member record says the boot copies → refused busy at once, naming the copy; the record deleted', async () => {
    const { shell, kv } = setup(JSON.stringify(bootRecord('paul', null, COPY, 'x')));
    const t0 = performance.now();
    await assert.rejects(
      shell.run(['/usr/lib/postgresql/15/bin/pg_ctl', '-D', '/srv/pg/paul', '-w', '-t', '60', 'status'], { timeoutMs: 3_600_000 }),
      (err: unknown) => err instanceof HandyRepError && err.code === 'CONTROL_CHANNEL' && /pg_ctl refused \(busy\): busy: boot copy since 2026-12-05T01:00:00.000Z \(the agent's boot clones john onto paul/.test(err.message),
    );
    assert.ok(performance.now() - t0 < 3000, 'not at its hour-long time limit');
    assert.equal([...kv.keys()].some((k) => k.includes('/commands/')), false);
  });

  it('the agent takes the command between its read and the busy answer → not answered busy: its result is waited for', async () => {
    let taken = false;
    const { shell, kv } = fakeAgentShell(
      'paul',
      [[keys.member('paul'), JSON.stringify(bootRecord('paul', null, COPY, 'x'))]],
      (store, key, record) => void store.set(key, JSON.stringify({ ...record, queued: { behind: "the agent's boot (role discovery)", at: 'x' } })),
      {
        // The member read (still boot_copy, a stale record) comes right after the record was read queued:
        // the copy ended meanwhile and the agent CAS-starts the command, then answers it.
        onRead: (store, key) => {
          if (taken || key !== keys.member('paul')) return;
          taken = true;
          const commandKey = [...store.keys()].find((k) => k.includes('/commands/')) as string;
          const record = JSON.parse(store.get(commandKey) as string) as Record<string, unknown>;
          store.set(commandKey, JSON.stringify({ ...record, started: { by: 'agent', at: 'x' } }));
          const result = { exit_code: 0, stdout: 'server started', stderr: '', timed_out: false, duration_ms: 5, refused: null };
          setTimeout(() => void store.set(commandKey, JSON.stringify({ ...record, started: { by: 'agent', at: 'x' }, result })), 100);
        },
      },
    );
    const result = await shell.run(['/usr/lib/postgresql/15/bin/pg_ctl', '-D', '/srv/pg/paul', '-w', '-t', '60', 'status'], { timeoutMs: 10_000 });
    assert.deepEqual([result.exitCode, result.stdout], [0, 'server started']);
    assert.equal([...kv.keys()].some((k) => k.includes('/commands/')), false, 'deleted once answered');
  });

  it('the member key expires while the command waits → agent gone', async () => {
    const { shell } = setup(JSON.stringify(bootRecord('paul', 'john', null, 'x')), (kv) => void setTimeout(() => kv.delete(keys.member('paul')), 300));
    await assert.rejects(
      shell.run(['/usr/lib/postgresql/15/bin/pg_ctl', '-D', '/srv/pg/paul', '-w', '-t', '60', 'status'], { timeoutMs: 3_600_000 }),
      (err: unknown) => err instanceof HandyRepError && /interrupted: agent gone \(its member key members\/paul expired while the command waited/.test(err.message),
    );
  });
});

/**
 * One boot attempt of john following paul, recorded at a port nothing listens on (so the attempt
 * fails at the master's CHECKPOINT): the steps told and the log. `pgVersion`: john's folder holds
 * data (a rewind), else it is empty (a copy).
 */
async function bootOverDeadMaster(pgVersion: boolean): Promise<{ told: (BootStep | null)[]; log: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'handyrep-boot-copy-'));
  try {
    const pgdata = join(dir, 'data');
    mkdirSync(pgdata, { recursive: true });
    if (pgVersion) writeFileSync(join(pgdata, 'PG_VERSION'), '16\n');
    const config = parseConfig(`servers: {john: {hostname: 127.0.0.1, role: master, pgdata: ${pgdata}}, paul: {hostname: 127.0.0.1, port: 1}}`, 'test');
    const record = encodeMasterRecord({ name: 'paul', term: '2', timeline: 2, promoted_lsn: null, sync_set: [], since: '2026-01-01T00:00:00Z', written_by: 'test' });
    const etcd = { keys: etcdKeys('/t/'), deadlineMs: 1000, client: { kv: { range: async () => ({ kvs: [{ value: Buffer.from(record), mod_revision: '7' }] }) } } } as unknown as EtcdContext;
    const pg = { settings: { socketDir: dir, port: 5432 }, observe: async () => ({ observation: { pidFilePid: null, pidAlive: false, writable: null }, facts: null }) } as unknown as LocalPostgres;
    const lease = { take: async () => null, renew: async () => undefined, fresh: () => false, held: () => false, release: async () => undefined };
    const told: (BootStep | null)[] = [];
    const lines: string[] = [];
    const runner = new BootRunner({ config, node: 'john', pg, etcd, callMs: 1000, loopMs: 500, lease, log: (l) => void lines.push(l), now: () => 0, dropSlot: async () => 'no slot', onStep: (c) => void told.push(c) });
    await runner.step();
    return { told, log: lines.join('\n') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('BootRunner: onStep around the steps of its boot', () => {
  it('a new node: told the copy (source, start) before it begins and null after it ended, also when it failed', async () => {
    const { told, log } = await bootOverDeadMaster(false);
    assert.equal(told.length, 2, log);
    assert.deepEqual([told[0]?.step, told[0]?.source, told[0]?.master, told[0]?.reclone, Number.isFinite(Date.parse(told[0]?.since ?? ''))], ['copy', 'paul', 'paul', false, true]);
    assert.equal(told[1], null);
    assert.match(log, /attempt 1 failed, PostgreSQL not started.*clone from paul failed/);
  });

  it('a node holding data: told the rewind (its CHECKPOINT first) before the master is asked, and its end, also when it failed', async () => {
    const { told, log } = await bootOverDeadMaster(true);
    assert.deepEqual(
      told.map((s) => (s === null ? null : [s.step, s.source, s.master, Number.isFinite(Date.parse(s.since))])),
      [['rewind', 'paul', 'paul', true], null],
      log,
    );
    assert.match(log, /attempt 1 failed, PostgreSQL not started.*cannot make it a standby of paul/);
  });
});
