/**
 * control_method agent, the pure parts row by row: which argv is which table action (controller),
 * what a request from etcd may hold (agent), what the agent rebuilds from its own configuration,
 * the record verdicts (answered, in flight, interrupted, stale term), the result mapping and the
 * command ids; then the executor loop over a fake store.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { configSchema } from '../../src/config/schema.js';
import { HandyRepError } from '../../src/model/errors.js';
import type { CommandResult, NodeShell } from '../../src/nodes/ports.js';
import { archiveLocalDir } from '../../src/plugins/archive/archive_local_dir.js';
import { pgCtlArgv } from '../../src/plugins/restart/restart_pg_ctl.js';
import { systemctlArgv } from '../../src/plugins/restart/restart_systemd.js';
import { CONTROL_ACTIONS, type PluginContext, type ServerRef } from '../../src/plugins/types.js';
import { CommandIds, encodeCommandRecord, judgeRecord, parseCommandRecord, refusal, resultOf, shellResultOf, truncateOutput, type CommandRecord } from '../../src/agent/commands/command-record.js';
import { planCommand, resolvedServer, type LocalStep } from '../../src/agent/commands/command-plan.js';
import { identifyCommand, parseCommandRequest, type CommandRequest } from '../../src/agent/commands/command-table.js';
import { CommandExecutor } from '../../src/agent/commands/executor.js';
import { localStepRunner } from '../../src/agent/commands/command-runner.js';
import { quoteArg } from '../../src/nodes/shell-quote.js';
import { config, context, FakeStore, john } from '../fixtures/agent-commands.js';
import { confLines } from '../../src/nodes/pg-conf-quote.js';
import { primaryConninfoFor } from '../../src/runtime/topology/remaster.js';


describe('identifyCommand: the argv the plugins and the runtime build → the table action', () => {
  for (const op of CONTROL_ACTIONS) {
    it(`restart_pg_ctl ${op} → pg_ctl ${op}, and the agent rebuilds the very same argv`, () => {
      const argv = pgCtlArgv(john, op, [], null, 7);
      const found = identifyCommand(argv, undefined, context);
      assert.ok(!('refused' in found), JSON.stringify(found));
      assert.equal(found.request.action, 'pg_ctl');
      const plan = planCommand(config, 'john', found.request);
      assert.ok(plan.ok);
      assert.deepEqual(plan.step, { kind: 'argv', argv });
    });
  }
  for (const op of CONTROL_ACTIONS) {
    it(`restart_systemd ${op} → systemctl ${op}, rebuilt from the agent's own restart_systemd settings`, () => {
      const argv = systemctlArgv(op, 'postgresql@15-main', true, 'systemctl');
      const found = identifyCommand(argv, undefined, context);
      assert.ok(!('refused' in found), JSON.stringify(found));
      assert.deepEqual(found.request, { action: 'systemctl', op });
      assert.deepEqual(planCommand(config, 'john', found.request), { ok: true, step: { kind: 'argv', argv } });
    });
  }
  it('systemctl with a verb restart_systemd never builds is refused', () => {
    assert.ok('refused' in identifyCommand(['sudo', '-n', 'systemctl', 'mask', 'postgresql@15-main'], undefined, context));
  });
  const rows: [string, string[], string | undefined, CommandRequest | null][] = [
    ['promote_pg_ctl', ['/usr/lib/postgresql/16/bin/pg_ctl', '-D', '/srv/pg/john', '-w', '-t', '30', 'promote'], undefined, { action: 'promote', wait_s: 30, expect: { pg_ctl_dir: '/srv/pg/john' } }],
    ['switchover pg_controldata', ['/usr/lib/postgresql/16/bin/pg_controldata', '-D', '/srv/pg/john'], undefined, { action: 'controldata', expect: { pgdata: '/srv/pg/john' } }],
    ['vantage pg_isready of paul', ['/usr/lib/postgresql/16/bin/pg_isready', '-q', '-h', '10.0.0.2', '-p', '5433', '-t', '2'], undefined, { action: 'isready', server: 'paul', timeout_s: 2, expect: { host: '10.0.0.2', port: 5433 } }],
    ['pg_isready of an unknown host', ['/usr/lib/postgresql/16/bin/pg_isready', '-q', '-h', '10.9.9.9', '-p', '5432', '-t', '2'], undefined, null],
    ['verify test command', [...config.handyrep.test_ssh_command], undefined, { action: 'test' }],
    ['rejoin: rm standby.signal', ['rm', '-f', '/srv/pg/john/standby.signal'], undefined, { action: 'clear_standby_signal', expect: { pgdata: '/srv/pg/john' } }],
    ['rejoin: touch standby.signal', ['touch', '/srv/pg/john/standby.signal'], undefined, { action: 'standby_signal', expect: { pgdata: '/srv/pg/john' } }],
    ['rejoin: set_upstream names the upstream, the settings (password) stay on the controller', ['sh', '-c', 'cat >> "$1"', 'set_upstream', '/srv/pg/john/postgresql.auto.conf'], confLines({ primary_conninfo: primaryConninfoFor({ ...config, passwords: { ...config.passwords, replication_pass: 'S3cret' } }, 'john', resolvedServer(config, 'paul') as ServerRef) }), { action: 'set_upstream', upstream: 'paul', expect: { pgdata: '/srv/pg/john' } }],
    ['set_upstream to an unknown host', ['sh', '-c', 'cat >> "$1"', 'set_upstream', '/srv/pg/john/postgresql.auto.conf'], "primary_conninfo = 'host=''10.9.9.9'' port=''5432'''\n", null],
    ['rm of anything else', ['rm', '-f', '/srv/pg/john/PG_VERSION'], undefined, null],
    ['a shell script not of the table', ['sh', '-c', 'rm -rf /', 'x'], undefined, null],
    ['pg_basebackup (clone: not an agent action yet)', ['/usr/lib/postgresql/16/bin/pg_basebackup', '-D', '/srv/pg/john'], undefined, null],
    ['pg_ctl with an unknown verb', ['/usr/lib/postgresql/16/bin/pg_ctl', '-D', '/srv/pg/john', 'init'], undefined, null],
    ['empty argv', [], undefined, null],
  ];
  for (const [name, argv, stdin, expected] of rows) {
    it(name, () => {
      const found = identifyCommand(argv, stdin, context);
      if (expected === null) {
        assert.ok('refused' in found, `refused: ${JSON.stringify(found)}`);
        assert.match(found.refused, /is not a node action an agent runs|is none of the configured servers/);
      } else {
        assert.deepEqual(found, { request: expected, stdin: null });
        assert.doesNotMatch(JSON.stringify(found), /S3cret/);
      }
    });
  }
  it('input with anything but set_upstream is refused', () => {
    const found = identifyCommand(['touch', '/srv/pg/john/standby.signal'], 'x', context);
    assert.ok('refused' in found);
  });
});

describe('identifyCommand: what archive_local_dir runs → the archive actions', () => {
  /** The argvs (and input) the plugin hands its control channel. */
  const record = async (call: (ctx: PluginContext) => Promise<unknown>): Promise<{ argv: readonly string[]; stdin: string | undefined }[]> => {
    const seen: { argv: readonly string[]; stdin: string | undefined }[] = [];
    const shell: NodeShell = {
      description: 'recording',
      run: async (argv, options) => {
        seen.push({ argv, stdin: options.stdin });
        return { exitCode: 0, stdout: '', stderr: '', timedOut: false, durationMs: 1 };
      },
      close: async () => undefined,
    };
    const ctx = { config, timeouts: { connectMs: 1000, statementMs: 1000, commandMs: 10_000 }, shellFor: () => shell, settings: () => ({}) } as unknown as PluginContext;
    await call(ctx);
    return seen;
  };
  const rows: [string, (ctx: PluginContext) => Promise<unknown>, string[]][] = [
    ['pushScript → archive_dir, archive_push (the script is not sent)', (ctx) => archiveLocalDir.pushScript(ctx, john), ['archive_dir', 'archive_push']],
    ['start → archive_start', (ctx) => archiveLocalDir.start(ctx, john), ['archive_start']],
    ['stop → archive_stop', (ctx) => archiveLocalDir.stop(ctx, john), ['archive_stop']],
  ];
  for (const [name, call, actions] of rows) {
    it(name, async () => {
      const found = (await record(call)).map(({ argv, stdin }) => identifyCommand(argv, stdin, context));
      assert.deepEqual(found.map((f) => ('refused' in f ? f.refused : f.request.action)), actions);
      for (const f of found) assert.ok(!('refused' in f) && f.stdin === null, 'no input sent');
    });
  }
  it('the agent plans them from its own archive settings', () => {
    assert.deepEqual(planCommand(config, 'john', { action: 'archive_dir' }), { ok: true, step: { kind: 'make_dir', path: '/srv/archive' } });
    assert.deepEqual(planCommand(config, 'john', { action: 'archive_start' }), { ok: true, step: { kind: 'remove_file', path: config.archive.no_archive_file } });
    const push = planCommand(config, 'john', { action: 'archive_push' });
    assert.deepEqual(push, { ok: true, step: { kind: 'archive_script', path: config.archive.archive_script_path, template: null, values: { archive_directory: '/srv/archive', no_archive_file: config.archive.no_archive_file } } });
    const without = configSchema.parse({ handyrep: { store: 'etcd' }, etcd: { endpoints: ['http://127.0.0.1:2379'] }, servers: { john: { hostname: 'a', role: 'master' } } });
    const refused = planCommand(without, 'john', { action: 'archive_push' });
    assert.ok(!refused.ok && /archive_directory is not set/.test(refused.problem));
  });
});

describe('parseCommandRequest: what a record from etcd may ask (nothing runs otherwise)', () => {
  const rows: [string, unknown, string | null, RegExp | null][] = [
    ['pg_ctl start', { action: 'pg_ctl', op: 'start', wait_s: 10 }, null, null],
    ['isready of a name', { action: 'isready', server: 'paul', timeout_s: 2 }, null, null],
    ['rewind onto a name', { action: 'rewind', source: 'paul' }, null, null],
    ['set_upstream naming a server', { action: 'set_upstream', upstream: 'paul' }, null, null],
    ['unknown action', { action: 'shell', line: 'id' }, null, /action/],
    ['op with a shell tail', { action: 'pg_ctl', op: 'start; rm -rf /', wait_s: 10 }, null, /op/],
    ['server name with a shell tail', { action: 'isready', server: '; rm -rf /', timeout_s: 2 }, null, /server: must be a server name/],
    ['rewind source as a path', { action: 'rewind', source: '../../etc' }, null, /source: must be a server name/],
    ['an extra path parameter', { action: 'controldata', pgdata: '/etc' }, null, /pgdata: paths and flags come from the agent's own configuration/],
    ['wait not a whole number', { action: 'promote', wait_s: 1.5 }, null, /wait_s/],
    ['wait as text', { action: 'promote', wait_s: '10; reboot' }, null, /wait_s/],
    ['not an object', 'pg_ctl start', null, /invalid command/],
    ['input on controldata', { action: 'controldata' }, 'x', /takes no input/],
    ['set_upstream with settings as input', { action: 'set_upstream', upstream: 'paul' }, "archive_command = 'rm -rf /'\n", /takes no input/],
    ['set_upstream without an upstream', { action: 'set_upstream' }, null, /upstream/],
  ];
  for (const [name, raw, stdin, problem] of rows) {
    it(name, () => {
      const parsed = parseCommandRequest(raw, stdin);
      if (problem === null) assert.ok(parsed.ok, JSON.stringify(parsed));
      else {
        assert.ok(!parsed.ok);
        assert.match(parsed.problem, problem);
      }
    });
  }
});

describe('planCommand: the agent builds from its own configuration', () => {
  const rows: [string, CommandRequest, string | null, LocalStep | RegExp][] = [
    ['controldata of its own folder', { action: 'controldata' }, null, { kind: 'argv', argv: ['/usr/lib/postgresql/16/bin/pg_controldata', '-D', '/srv/pg/john'] }],
    ['isready with the configured host and port', { action: 'isready', server: 'paul', timeout_s: 3 }, null, { kind: 'argv', argv: ['/usr/lib/postgresql/16/bin/pg_isready', '-q', '-h', '10.0.0.2', '-p', '5433', '-t', '3'] }],
    ['isready of an unknown server', { action: 'isready', server: 'ringo', timeout_s: 3 }, null, /no server ringo/],
    ['standby.signal in its own folder', { action: 'standby_signal' }, null, { kind: 'write_file', path: '/srv/pg/john/standby.signal' }],
    ['set_upstream appends the conninfo built from its own configuration', { action: 'set_upstream', upstream: 'paul' }, null, { kind: 'append_file', path: '/srv/pg/john/postgresql.auto.conf', text: "primary_conninfo = 'host=''10.0.0.2'' port=''5433'' user=''replicator'' application_name=''john'' sslmode=''prefer'''\n" }],
    ['set_upstream onto itself', { action: 'set_upstream', upstream: 'john' }, null, /from itself/],
    ['rewind onto itself', { action: 'rewind', source: 'john' }, null, /onto itself/],
    ['status for another data folder than the agent\'s → refused, not "not running"', { action: 'pg_ctl', op: 'status', wait_s: 5, expect: { pg_ctl_dir: '/srv/pg/old' } }, null, /configuration differs: the controller expects pg_ctl_dir "\/srv\/pg\/old", this agent has "\/srv\/pg\/john"/],
    ['probe of a host the agent knows at another address → refused, not "does not see"', { action: 'isready', server: 'paul', timeout_s: 3, expect: { host: '10.0.0.99', port: 5433 } }, null, /configuration differs: the controller expects host "10.0.0.99"/],
    ['matching expectations → run', { action: 'controldata', expect: { pgdata: '/srv/pg/john' } }, null, { kind: 'argv', argv: ['/usr/lib/postgresql/16/bin/pg_controldata', '-D', '/srv/pg/john'] }],
    ['rewind onto an unknown server', { action: 'rewind', source: 'ringo' }, null, /no server ringo/],
  ];
  for (const [name, request, , expected] of rows) {
    it(name, () => {
      const plan = planCommand(config, 'john', request);
      if (expected instanceof RegExp) {
        assert.ok(!plan.ok);
        assert.match(plan.problem, expected);
      } else {
        assert.ok(plan.ok);
        assert.deepEqual(plan.step, expected);
      }
    });
  }
});

const command = (over: Partial<CommandRecord['command']> = {}): CommandRecord['command'] => ({
  id: '00000000000000001-abc',
  node: 'john',
  term: '42',
  controller: 'ctl-a',
  written_at: '2026-01-01T00:00:00Z',
  timeout_ms: 5000,
  request: { action: 'controldata' },
  stdin: null,
  ...over,
});

describe('judgeRecord: what an agent does with a record', () => {
  const ok = resultOf({ exitCode: 0, stdout: '', stderr: '', timedOut: false, durationMs: 1 });
  const rows: [string, CommandRecord, string | null, string][] = [
    ['new, current term → run', { command: command(), started: null, result: null }, '42', 'run'],
    ['answered → skip', { command: command(), started: { by: 'p1', at: 'x' }, result: ok }, '42', 'skip'],
    ['started by this process → skip (in flight)', { command: command(), started: { by: 'me', at: 'x' }, result: null }, '42', 'skip'],
    ['started by an earlier process → interrupted', { command: command(), started: { by: 'p0', at: 'x' }, result: null }, '42', 'interrupted'],
    ['older term → stale', { command: command({ term: '41' }), started: null, result: null }, '42', 'stale_term'],
    ['newer term than the key read (never trusted) → stale', { command: command({ term: '43' }), started: null, result: null }, '42', 'stale_term'],
    ['nobody leads → stale', { command: command(), started: null, result: null }, null, 'stale_term'],
  ];
  for (const [name, record, term, verdict] of rows) it(name, () => assert.equal(judgeRecord(record, 'me', term).kind, verdict));
});

describe('records, results and ids', () => {
  it('a record survives encoding; malformed ones are STORE_DATA naming the key', () => {
    const record: CommandRecord = { command: command(), started: null, result: null };
    assert.deepEqual(parseCommandRecord('k', encodeCommandRecord(record)), record);
    for (const bad of ['{', '{}', JSON.stringify({ command: command({ term: 'x' }) }), JSON.stringify({ command: command({ timeout_ms: -1 }) }), JSON.stringify({ command: command(), result: { exit_code: 'x' } })]) {
      assert.throws(() => parseCommandRecord('commands/john/1', bad), (err: unknown) => err instanceof HandyRepError && err.code === 'STORE_DATA' && /commands\/john\/1/.test(err.message));
    }
  });
  it('results map back as a NodeShell result; refusals throw as an unreachable channel (stale term: NOT_LEADER)', () => {
    const run: CommandResult = { exitCode: 3, stdout: 'out', stderr: 'err', timedOut: false, durationMs: 12 };
    assert.deepEqual(shellResultOf('john', 'pg_ctl', resultOf(run)), run);
    const codes: [Parameters<typeof refusal>[0], string][] = [['stale_term', 'NOT_LEADER'], ['invalid', 'CONTROL_CHANNEL'], ['interrupted', 'CONTROL_CHANNEL'], ['failed', 'CONTROL_CHANNEL']];
    for (const [kind, code] of codes) {
      assert.throws(() => shellResultOf('john', 'pg_ctl', refusal(kind, 'why')), (err: unknown) => err instanceof HandyRepError && err.code === code && /agent john: pg_ctl refused/.test(err.message));
    }
  });
  it('output is truncated to its tail', () => {
    const long = 'x'.repeat(20_000) + 'END';
    const cut = truncateOutput(long);
    assert.ok(cut.length < 17_000);
    assert.match(cut, /END$/);
    assert.match(cut, /characters cut/);
  });
  it('ids are unique and ordered even when the clock goes back', () => {
    const times = [1000, 1000, 999, 2000];
    const ids = new CommandIds(() => times.shift() ?? 0, () => 'r');
    const made = [ids.next(), ids.next(), ids.next(), ids.next()];
    assert.deepEqual([...made].sort(), made);
    assert.equal(new Set(made).size, 4);
  });
});

describe('CommandExecutor over a fake store', () => {
  const setup = (processId = 'agent-1') => {
    const store = new FakeStore();
    const ran: LocalStep[] = [];
    const executor = new CommandExecutor(config, 'john', {
      store,
      processId,
      log: () => undefined,
      run: async (step) => {
        ran.push(step);
        return { exitCode: 0, stdout: 'done', stderr: '', timedOut: false, durationMs: 5 };
      },
    });
    return { store, ran, executor };
  };

  it('runs a valid command of the current term once and answers it', async () => {
    const { store, ran, executor } = setup();
    store.put('c1', { command: command(), started: null, result: null });
    await executor.scan();
    await executor.scan();
    assert.equal(ran.length, 1, 'run once, the second scan sees the result');
    const record = store.record('c1');
    assert.equal(record?.started?.by, 'agent-1');
    assert.deepEqual({ exit: record?.result?.exit_code, out: record?.result?.stdout, refused: record?.result?.refused }, { exit: 0, out: 'done', refused: null });
  });

  it('a command of an old term is answered stale_term and nothing runs', async () => {
    const { store, ran, executor } = setup();
    store.put('c1', { command: command({ term: '7' }), started: null, result: null });
    await executor.scan();
    assert.equal(ran.length, 0);
    assert.equal(store.record('c1')?.result?.refused?.kind, 'stale_term');
  });

  it('a hostile parameter is answered invalid and nothing runs', async () => {
    const { store, ran, executor } = setup();
    store.put('c1', { command: command({ request: { action: 'isready', server: '; rm -rf /', timeout_s: 1 } }), started: null, result: null });
    store.put('c2', { command: command({ request: { action: 'controldata', pgdata: '/etc' } }), started: null, result: null });
    store.put('c3', { command: command({ node: 'paul' }), started: null, result: null });
    await executor.scan();
    assert.equal(ran.length, 0);
    for (const id of ['c1', 'c2', 'c3']) assert.equal(store.record(id)?.result?.refused?.kind, 'invalid', id);
    assert.match(store.record('c1')?.result?.refused?.message ?? '', /server: must be a server name/);
  });

  it('after an agent restart: a command in flight is answered interrupted, never run again', async () => {
    const { store, ran, executor } = setup('agent-2');
    store.put('c1', { command: command(), started: { by: 'agent-1', at: 'x' }, result: null });
    await executor.scan();
    assert.equal(ran.length, 0);
    assert.equal(store.record('c1')?.result?.refused?.kind, 'interrupted');
  });

  it('a record deleted by the leader before the agent marks it started is not run', async () => {
    const { store, ran, executor } = setup();
    store.put('c1', { command: command(), started: null, result: null });
    store.beforeReplace = (id) => store.kv.delete(id);
    await executor.scan();
    assert.equal(ran.length, 0);
    assert.equal(store.kv.has('c1'), false);
  });

  it('the term changes between the check and the take → nothing runs, answered stale_term (one transaction)', async () => {
    const { store, ran, executor } = setup();
    store.put('c1', { command: command(), started: null, result: null });
    store.beforeReplace = () => {
      store.term = '43';
      store.beforeReplace = () => undefined;
    };
    await executor.scan();
    assert.equal(ran.length, 0);
    assert.equal(store.record('c1')?.result?.refused?.kind, 'stale_term');
  });

  it('a commanded stop, faststop or kill is announced to the agent first (not a crash); status is not, and runs no round', async () => {
    const store = new FakeStore();
    const events: string[] = [];
    const executor = new CommandExecutor(config, 'john', {
      store,
      processId: 'a',
      log: () => undefined,
      beforeStop: () => events.push('beforeStop'),
      afterPostgresAction: async () => events.push('round'),
      run: async () => {
        events.push('run');
        return { exitCode: 0, stdout: '', stderr: '', timedOut: false, durationMs: 1 };
      },
    });
    store.put('c1', { command: command({ request: { action: 'pg_ctl', op: 'kill', wait_s: 1 } }), started: null, result: null });
    await executor.scan();
    assert.deepEqual(events, ['beforeStop', 'run', 'round']);
    events.length = 0;
    store.put('c2', { command: command({ id: 'c2', request: { action: 'pg_ctl', op: 'status', wait_s: 1 } }), started: null, result: null });
    await executor.scan();
    assert.deepEqual(events, ['run']);
  });

  it('a watch that never starts (etcd unreachable) does not hold up start(); the scans run', async () => {
    const store = new FakeStore();
    store.watch = () => new Promise(() => undefined);
    let ran = 0;
    const executor = new CommandExecutor(config, 'john', { store, processId: 'a', rescanMs: 20, log: () => undefined, run: async () => {
      ran += 1;
      return { exitCode: 0, stdout: '', stderr: '', timedOut: false, durationMs: 1 };
    } });
    await executor.start();
    store.put('c1', { command: command(), started: null, result: null });
    await new Promise((resolve) => setTimeout(resolve, 200));
    await executor.stop();
    assert.equal(ran, 1);
  });

  it('promote runs only on the node the master key names; a record under another id than its key is refused', async () => {
    const { store, ran, executor } = setup();
    store.master = 'paul';
    store.put('c1', { command: command({ id: 'c1', request: { action: 'promote', wait_s: 5 } }), started: null, result: null });
    store.put('c2', { command: command({ id: 'other' }), started: null, result: null }, true);
    await executor.scan();
    assert.equal(ran.length, 0);
    assert.match(store.record('c1')?.result?.refused?.message ?? '', /promote refused, the master key names paul, not john/);
    assert.equal(store.record('c2')?.result?.refused?.kind, 'invalid');
    store.master = 'john';
    store.put('c3', { command: command({ id: 'c3', request: { action: 'promote', wait_s: 5 } }), started: null, result: null });
    await executor.scan();
    assert.equal(ran.length, 1);
  });

  it('a round after the command that never ends does not hold the answer past its budget', async () => {
    const store = new FakeStore();
    const executor = new CommandExecutor(config, 'john', {
      store,
      processId: 'a',
      log: () => undefined,
      roundBudgetMs: 50,
      afterPostgresAction: () => new Promise(() => undefined),
      run: async () => ({ exitCode: 0, stdout: '', stderr: '', timedOut: false, durationMs: 1 }),
    });
    store.put('c1', { command: command({ request: { action: 'pg_ctl', op: 'stop', wait_s: 5 } }), started: null, result: null });
    await executor.scan();
    assert.equal(store.record('c1')?.result?.exit_code, 0);
  });

  it('a runner that throws is answered failed, once', async () => {
    const store = new FakeStore();
    const executor = new CommandExecutor(config, 'john', { store, processId: 'a', log: () => undefined, run: () => Promise.reject(new Error('spawn failed')) });
    store.put('c1', { command: command(), started: null, result: null });
    await executor.scan();
    assert.equal(store.record('c1')?.result?.refused?.kind, 'failed');
  });
});

describe('config: control_method agent', () => {
  const rows: [string, Record<string, unknown>, RegExp | null][] = [
    ['with the etcd store', { handyrep: { store: 'etcd' }, etcd: { endpoints: ['http://127.0.0.1:2379'] }, server_defaults: { control_method: 'agent' } }, null],
    ['in server_defaults, local store', { server_defaults: { control_method: 'agent' } }, /server_defaults\.control_method: control_method agent needs handyrep\.store etcd/],
    ['on one server, local store', { servers: { john: { hostname: 'a', role: 'master', control_method: 'agent' } } }, /servers\.john\.control_method: control_method agent needs handyrep\.store etcd/],
  ];
  for (const [name, input, problem] of rows) {
    it(name, () => {
      const parsed = configSchema.safeParse(input);
      if (problem === null) assert.ok(parsed.success, JSON.stringify(parsed.error?.issues));
      else {
        assert.ok(!parsed.success);
        assert.match(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('\n'), problem);
      }
    });
  }
});

describe('localStepRunner: the file steps on a real folder', () => {
  it('make_dir, archive_script (atomic, mode 700), write_file, append_file, remove_file', async () => {
    const root = mkdtempSync(join(tmpdir(), 'handyrep-agent-steps-'));
    try {
      const run = localStepRunner(config);
      const ok = async (step: LocalStep): Promise<void> => assert.equal((await run(step, 5000)).exitCode, 0, JSON.stringify(step));
      await ok({ kind: 'make_dir', path: join(root, 'archive') });
      await ok({ kind: 'archive_script', path: join(root, 'bin', 'archive.sh'), template: null, values: { archive_directory: join(root, 'archive'), no_archive_file: join(root, 'flag') } });
      const script = readFileSync(join(root, 'bin', 'archive.sh'), 'utf8');
      assert.ok(script.includes(`ARCHIVE_DIR=${quoteArg(join(root, 'archive'))}\n`), script);
      assert.equal(statSync(join(root, 'bin', 'archive.sh')).mode & 0o777, 0o700);
      assert.deepEqual(readdirSync(join(root, 'bin')), ['archive.sh'], 'no temporary file left');
      const missing = await run({ kind: 'write_file', path: join(root, 'no-pgdata', 'standby.signal') }, 5000);
      assert.equal(missing.exitCode, 1, 'standby.signal in a missing data folder fails');
      assert.ok(!existsSync(join(root, 'no-pgdata')), 'and creates no folder');
      await ok({ kind: 'write_file', path: join(root, 'flags', 'noarchive'), makeParent: true });
      assert.ok(existsSync(join(root, 'flags', 'noarchive')));
      await ok({ kind: 'append_file', path: join(root, 'auto.conf'), text: "primary_conninfo = 'a'\n" });
      await ok({ kind: 'append_file', path: join(root, 'auto.conf'), text: "primary_conninfo = 'b'\n" });
      assert.equal(readFileSync(join(root, 'auto.conf'), 'utf8'), "primary_conninfo = 'a'\nprimary_conninfo = 'b'\n");
      await ok({ kind: 'remove_file', path: join(root, 'flags', 'noarchive') });
      await ok({ kind: 'remove_file', path: join(root, 'flags', 'noarchive') });
      assert.ok(!existsSync(join(root, 'flags', 'noarchive')));
      const failed = await run({ kind: 'archive_script', path: join(root, 'x.sh'), template: join(root, 'missing-template'), values: {} }, 5000);
      assert.equal(failed.exitCode, 1);
      assert.match(failed.stderr, /missing-template/);
      await assert.rejects(run({ kind: 'argv', argv: [join(root, 'no-such-program')] }, 5000), /no-such-program/, 'a program that cannot start is no exit code (answered failed, not exit 1)');
      const argv = await run({ kind: 'argv', argv: ['sh', '-c', 'echo out; echo err >&2; exit 3'] }, 5000);
      assert.deepEqual({ exit: argv.exitCode, out: argv.stdout, err: argv.stderr }, { exit: 3, out: 'out\n', err: 'err\n' });
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
