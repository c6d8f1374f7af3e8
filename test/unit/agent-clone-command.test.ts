/**
 * control_method agent, the clone and archive cleanup actions row by row: the argv the controller's
 * code builds → the table action (and nothing else), what a record may ask, what the agent plans
 * from its own configuration; and the controller's side of a clone (clone-through-agent.ts).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { CommandResult, NodeShell, WholeNodeAction } from '../../src/nodes/ports.js';
import type { PluginContext } from '../../src/plugins/types.js';
import { archiveDeleteFind } from '../../src/plugins/archive/archive_delete_find.js';
import { planCommand } from '../../src/agent/commands/command-plan.js';
import { parseCommandRecord, shellResultOf, WHOLE_OUTPUT_LIMIT } from '../../src/agent/commands/command-record.js';
import { CommandExecutor } from '../../src/agent/commands/executor.js';
import { identifyCommand, parseCommandRequest } from '../../src/agent/commands/command-table.js';
import { inspectFolderArgv } from '../../src/runtime/clone/target-node.js';
import { agentCopyTimeoutMs, copiesThroughAgent, copyThroughAgent, oldDataForAttempt } from '../../src/runtime/clone/clone-through-agent.js';
import { config, context, FakeStore, john } from '../fixtures/agent-commands.js';

const ok = (stdout = ''): CommandResult => ({ exitCode: 0, stdout, stderr: '', timedOut: false, durationMs: 1 });

/** The argvs a plugin hands its control channel. */
async function argvsOf(call: (ctx: PluginContext) => Promise<unknown>, stdout = ''): Promise<(readonly string[])[]> {
  const seen: (readonly string[])[] = [];
  const shell: NodeShell = { description: 'recording', run: async (argv) => (seen.push(argv), ok(stdout)), close: async () => undefined };
  const ctx = { config, timeouts: { connectMs: 1000, statementMs: 1000, commandMs: 10_000 }, shellFor: () => shell, settings: () => ({}) } as unknown as PluginContext;
  await call(ctx);
  return seen;
}

describe('identifyCommand: the clone and archive cleanup argvs', () => {
  it("the clone's folder inspection → inspect_folder (expecting the controller's data folder); the agent rebuilds the same argv", () => {
    const found = identifyCommand(inspectFolderArgv('/srv/pg/john'), undefined, context);
    assert.deepEqual(found, { request: { action: 'inspect_folder', expect: { pgdata: '/srv/pg/john' } }, stdin: null });
    assert.deepEqual(planCommand(config, 'john', { action: 'inspect_folder' }), { ok: true, step: { kind: 'argv', argv: inspectFolderArgv('/srv/pg/john') } });
    const other = planCommand(config, 'john', { action: 'inspect_folder', expect: { pgdata: '/srv/pg/old' } });
    assert.ok(!other.ok && /configuration differs/.test(other.problem));
  });

  it('archive_delete_find: the listing → archive_list, the deletes → archive_delete with the file names only', async () => {
    const location = { server: john, directory: '/srv/archive' };
    const listing = await argvsOf((ctx) => archiveDeleteFind.listFiles(ctx, location));
    const deletes = await argvsOf((ctx) => archiveDeleteFind.deleteFiles(ctx, location, ['000000010000000000000001', '000000010000000000000002.partial']));
    const found = [...listing, ...deletes].map((argv) => identifyCommand(argv, undefined, context));
    assert.deepEqual(found, [
      { request: { action: 'archive_list' }, stdin: null },
      { request: { action: 'archive_delete', files: ['000000010000000000000001', '000000010000000000000002.partial'] }, stdin: null },
    ]);
    const planned = planCommand(config, 'john', { action: 'archive_delete', files: ['000000010000000000000001'] });
    assert.deepEqual(planned, { ok: true, step: { kind: 'argv', argv: ['rm', '-f', '--', '/srv/archive/000000010000000000000001'] } });
    assert.deepEqual(planCommand(config, 'john', { action: 'archive_list' }), { ok: true, step: { kind: 'argv', argv: listing[0], wholeOutput: true } });
  });

  const refusedRows: [string, string[]][] = [
    ['a listing of another folder', ['find', '/etc', '-mindepth', '1', '-maxdepth', '1', '-type', 'f', '-printf', '%f\\t%T@\\t%s\\n']],
    ['an rm outside the archive folder', ['rm', '-f', '--', '/etc/passwd']],
    ['an rm of a path under the archive folder', ['rm', '-f', '--', '/srv/archive/../pg/john/PG_VERSION']],
    ['an rm of an option-like name', ['rm', '-f', '--', '/srv/archive/-rf']],
    ['an rm of a file in the archive folder that is no WAL file', ['rm', '-f', '--', '/srv/archive/000000010000000000000001', '/srv/archive/archive.sh']],
    ['an inspection with another script', ['sh', '-c', 'rm -rf "$1"', 'inspect_pgdata', '/srv/pg/john']],
  ];
  for (const [name, argv] of refusedRows) {
    it(`${name} is no action (refused before anything is sent)`, () => assert.ok('refused' in identifyCommand(argv, undefined, context)));
  }
});

describe('parseCommandRequest and planCommand: clone', () => {
  const good = { action: 'clone', source: 'paul', upstream: 'paul', old_data: 'move', restore_command: false };
  const rows: [string, unknown, RegExp | null][] = [
    ['a clone from a configured server', good, null],
    ['a source that is a path', { ...good, source: '/srv/pg/other' }, /source: must be a server name/],
    ['an upstream with a shell tail', { ...good, upstream: 'paul; rm -rf /' }, /upstream: must be a server name/],
    ['old_data not one of none, move, delete', { ...good, old_data: 'rm' }, /old_data/],
    ['a data folder smuggled in', { ...good, pgdata: '/etc' }, /pgdata: paths and flags come from the agent's own configuration/],
    ['a password smuggled in', { ...good, password: 'x' }, /password: paths and flags/],
    ['archive_delete of a path', { action: 'archive_delete', files: ['../../etc/passwd'] }, /files\.0: must be a plain file name/],
    ['archive_delete of nothing', { action: 'archive_delete', files: [] }, /files/],
    ['archive_delete of a plain name that is no WAL file', { action: 'archive_delete', files: ['000000010000000000000001', 'archive.sh'] }, /files\.1: must be the name of an archived WAL file/],
    ['archive_delete of a lower-case segment name', { action: 'archive_delete', files: ['00000001000000000000000a'] }, /files\.0: must be the name of an archived WAL file/],
    ['archive_delete of segments, a label, a history file, compressed', { action: 'archive_delete', files: ['000000010000000000000001', '000000010000000000000002.partial', '000000010000000000000003.00000028.backup', '00000002.history', '000000010000000000000004.gz'] }, null],
  ];
  for (const [name, raw, problem] of rows) {
    it(name, () => {
      const parsed = parseCommandRequest(raw, null);
      if (problem === null) assert.ok(parsed.ok, JSON.stringify(parsed));
      else assert.ok(!parsed.ok && problem.test(parsed.problem), JSON.stringify(parsed));
    });
  }
  it('the agent plans the clone for itself from servers it knows; never from or streaming from itself', () => {
    assert.deepEqual(planCommand(config, 'john', { action: 'clone', source: 'paul', upstream: 'paul', old_data: 'delete', restore_command: true }), {
      ok: true,
      step: { kind: 'clone', node: 'john', source: 'paul', upstream: 'paul', oldData: 'delete', restoreCommand: true },
    });
    const self = planCommand(config, 'john', { action: 'clone', source: 'john', upstream: 'paul', old_data: 'none', restore_command: false });
    assert.ok(!self.ok && /from itself/.test(self.problem));
    const unknown = planCommand(config, 'john', { action: 'clone', source: 'paul', upstream: 'ringo', old_data: 'none', restore_command: false });
    assert.ok(!unknown.ok && /no server ringo/.test(unknown.problem));
  });
  it("a clone carries the controller's data folder: the agent refuses when its own differs (nothing copied)", () => {
    const mine = config.servers['john']?.pgdata as string;
    const same = planCommand(config, 'john', { action: 'clone', source: 'paul', upstream: 'paul', old_data: 'move', restore_command: false, expect: { pgdata: mine } });
    assert.ok(same.ok, JSON.stringify(same));
    const other = planCommand(config, 'john', { action: 'clone', source: 'paul', upstream: 'paul', old_data: 'move', restore_command: false, expect: { pgdata: '/srv/pg/elsewhere' } });
    assert.ok(!other.ok && /configuration differs.*pgdata "\/srv\/pg\/elsewhere", this agent has/.test(other.problem), JSON.stringify(other));
  });
  it('the data folder compared as a folder: a trailing slash, "//" or "/./" is the same one; ".." is not (review s8 N6)', () => {
    const mine = config.servers['john']?.pgdata as string;
    const plan = (pgdata: string) => planCommand(config, 'john', { action: 'clone', source: 'paul', upstream: 'paul', old_data: 'move', restore_command: false, expect: { pgdata } });
    for (const same of [`${mine}/`, `${mine}//`, mine.replace(/\/([^/]*)$/, '//$1'), mine.replace(/\/([^/]*)$/, '/./$1'), `${mine}/.`]) assert.ok(plan(same).ok, same);
    for (const other of [`${mine}/../x`, `${mine}x`, `${mine}/..`]) assert.ok(!plan(other).ok, other);
  });
});

describe('archive_list through an agent is answered whole or refused, never cut (M1)', () => {
  const listing = (n: number): string =>
    ['0000000100000001000001F4.00000028.backup\t1.0\t300\n', ...Array.from({ length: n }, (_, i) => `00000001000000${(i >> 8).toString(16).toUpperCase().padStart(2, '0')}000000${(i & 255).toString(16).toUpperCase().padStart(2, '0')}\t1.0\t16777216\n`)].join('');
  const runThrough = async (stdout: string) => {
    const store = new FakeStore();
    const executor = new CommandExecutor(config, 'john', { store, processId: 'a', log: () => undefined, run: async () => ({ exitCode: 0, stdout, stderr: '', timedOut: false, durationMs: 1 }) });
    store.put('l1', { command: { id: 'l1', node: 'john', term: '42', controller: 'c', written_at: 'x', timeout_ms: 1000, request: { action: 'archive_list' }, stdin: null }, started: null, result: null });
    await executor.scan();
    return store.record('l1')?.result as NonNullable<ReturnType<FakeStore['record']>>['result'];
  };
  it('1001 files (56 KB, beyond the 16 KB tail kept for other commands) reach the cleanup all', async () => {
    const result = await runThrough(listing(1000));
    const shell: NodeShell = { description: 'agent', run: async () => shellResultOf('john', 'archive_list', result as never), close: async () => undefined };
    const ctx = { config, timeouts: { connectMs: 1, statementMs: 1, commandMs: 1000 }, shellFor: () => shell } as unknown as PluginContext;
    const files = await archiveDeleteFind.listFiles(ctx, { server: john, directory: '/srv/archive' });
    assert.equal(files.length, 1001);
    assert.equal(files[0]?.name, '0000000100000001000001F4.00000028.backup');
  });
  it('a listing above the whole-output limit is refused (failed), not answered in part', async () => {
    const result = await runThrough('x'.repeat(WHOLE_OUTPUT_LIMIT + 1));
    assert.equal(result?.refused?.kind, 'failed');
    assert.match(result?.refused?.message ?? '', /output too long to answer whole/);
  });
  it('the controller never plans from a cut result', async () => {
    const shell: NodeShell = { description: 'agent', run: async () => ({ ...ok(`[… 100 characters cut]\n${listing(3)}`) }), close: async () => undefined };
    const ctx = { config, timeouts: { connectMs: 1, statementMs: 1, commandMs: 1000 }, shellFor: () => shell } as unknown as PluginContext;
    await assert.rejects(archiveDeleteFind.listFiles(ctx, { server: john, directory: '/srv/archive' }), /the listing came back cut/);
  });
});

describe('records: queued and progress parts', () => {
  const command = { id: 'c1', node: 'john', term: '42', controller: 'ctl', written_at: 'x', timeout_ms: 1000, request: { action: 'controldata' }, stdin: null };
  it('are kept through parsing; malformed ones are STORE_DATA naming the part', () => {
    const value = { command, started: null, result: null, queued: { behind: 'command c0', at: 'x' }, progress: { bytes_done: 5, bytes_total: null, at: 'y' } };
    assert.deepEqual(parseCommandRecord('k', JSON.stringify(value)), value);
    assert.throws(() => parseCommandRecord('k', JSON.stringify({ ...value, progress: { bytes_done: -1, bytes_total: 1, at: 'y' } })), /"progress" is not/);
    assert.throws(() => parseCommandRecord('k', JSON.stringify({ ...value, queued: 'yes' })), /"queued" is not/);
  });
});

describe("clone-through-agent: the controller's side", () => {
  const channel = (answer: CommandResult | Error) => {
    const sent: { request: WholeNodeAction; timeoutMs: number }[] = [];
    const shell: NodeShell = {
      description: 'agent',
      run: async () => ok(),
      runAction: async (request, timeoutMs) => {
        sent.push({ request, timeoutMs });
        if (answer instanceof Error) throw answer;
        return answer;
      },
      close: async () => undefined,
    };
    const ctx = { config, shellFor: () => shell, settings: (name: string) => (name === 'clone_basebackup' ? { timeout_seconds: 600 } : {}) } as unknown as PluginContext;
    return { ctx, sent };
  };
  const copy = { source: 'paul', upstream: 'paul', oldData: 'move', restoreCommand: false } as const;

  it('one clone command with the typed parameters and the plugin timeout (copy, then its verification) plus a margin; where the old folder went is read back', async () => {
    const { ctx, sent } = channel(ok('pg_basebackup from paul finished; old data folder kept at /srv/pg/john 2.handyrep-old-20260101T000000Z\nhandyrep-folder: {"touched":true,"old_data":"/srv/pg/john 2.handyrep-old-20260101T000000Z"}'));
    assert.equal(copiesThroughAgent(ctx, john), true);
    const outcome = await copyThroughAgent(ctx, john, copy);
    assert.deepEqual(sent, [{ request: { action: 'clone', source: 'paul', upstream: 'paul', old_data: 'move', restore_command: false, expect: { pgdata: john.pgdata } }, timeoutMs: 600_000 + 600_000 + 900_000 }]);
    assert.equal(outcome.ok, true);
    assert.equal(outcome.oldData, '/srv/pg/john 2.handyrep-old-20260101T000000Z', 'read from the structured line (a path with a space too)');
    assert.doesNotMatch(outcome.details, /handyrep-folder/);
  });

  it('S3: a refusal before the folder was touched says so; no answer at all counts as touched', async () => {
    const refused = await copyThroughAgent(channel({ ...ok('handyrep-folder: {"touched":false,"old_data":null}'), exitCode: 1, stderr: "not recloned: this node's data belongs to another cluster" }).ctx, john, copy);
    assert.deepEqual([refused.ok, refused.touched], [false, false]);
    const gone = await copyThroughAgent(channel(new Error('agent john: took clone but gave no result')).ctx, john, copy);
    assert.equal(gone.touched, true);
    const unsaid = await copyThroughAgent(channel({ ...ok(), exitCode: 1 }).ctx, john, copy);
    assert.equal(unsaid.touched, true, 'no folder line: assume touched');
  });

  it('M2: a retry never deletes a folder the operator asked to keep while it is not known to be aside', () => {
    const rows: [number, 'none' | 'move' | 'delete', string | null, string][] = [
      [1, 'move', null, 'move'],
      [1, 'delete', null, 'delete'],
      [1, 'none', null, 'none'],
      [2, 'move', null, 'move'],
      [2, 'move', '/srv/pg/john.handyrep-old-x', 'delete'],
      [2, 'delete', null, 'delete'],
      [2, 'none', null, 'delete'],
    ];
    for (const [attempt, planned, kept, expected] of rows) assert.equal(oldDataForAttempt(attempt, planned, kept), expected, `${attempt} ${planned} ${String(kept)}`);
  });

  it('a failed copy, a timed-out one and a refused command are failures naming the agent', async () => {
    const failed = await copyThroughAgent(channel({ ...ok(), exitCode: 1, stderr: 'copy from paul failed, partial copy removed: x' }).ctx, john, copy);
    assert.deepEqual([failed.ok, /by the agent of john: copy from paul failed/.test(failed.details)], [false, true]);
    const timedOut = await copyThroughAgent(channel({ ...ok(), exitCode: null, timedOut: true }).ctx, john, copy);
    assert.match(timedOut.details, /\(timed out\)/);
    const refused = await copyThroughAgent(channel(new Error('agent john: clone refused (busy): busy: …')).ctx, john, copy);
    assert.deepEqual([refused.ok, /refused \(busy\)/.test(refused.details)], [false, true]);
  });

  it('the timeout is capped at what a record allows (a day)', () => {
    const ctx = { settings: () => ({}) } as unknown as PluginContext;
    assert.equal(agentCopyTimeoutMs(ctx, john), 86_400_000);
  });

  it('clone_basebackup: the time of the copy and of its verification (default the same), plus the margin', () => {
    const at = (settings: Record<string, unknown>) => agentCopyTimeoutMs({ settings: () => settings } as unknown as PluginContext, { ...john, clone_method: 'clone_basebackup' });
    assert.equal(at({ timeout_seconds: 3600 }), (3600 + 3600 + 900) * 1000);
    assert.equal(at({ timeout_seconds: 3600, verify_timeout_seconds: 600 }), (3600 + 600 + 900) * 1000);
    assert.equal(agentCopyTimeoutMs({ settings: () => ({ timeout_seconds: 3600 }) } as unknown as PluginContext, { ...john, clone_method: 'clone_rsync' }), (3600 + 900) * 1000);
  });
});
