/** LocalShell against real processes: user switch, exit codes, stdin, timeouts, process groups. */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { after, describe, it } from 'node:test';
import { HandyRepError } from '../../src/model/errors.js';
import { LocalShell } from '../../src/nodes/local-shell.js';
import { lookupUser } from '../../src/nodes/os-users.js';

/** pids of live processes whose argv is exactly `argv`. */
function pidsRunning(argv: readonly string[]): number[] {
  const wanted = `${argv.join('\0')}\0`;
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (/\) Z /.test(stat)) continue;
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8') === wanted) found.push(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return found;
}

async function waitGone(argv: readonly string[], timeoutMs: number): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const pids = pidsRunning(argv);
    if (pids.length === 0 || Date.now() > deadline) return pids;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** Unique sleeps so that the process checks never see someone else's. */
const SLEEPS = [['sleep', '32.17'], ['sleep', '32.23'], ['sleep', '32.29']] as const;

describe('LocalShell', { skip: process.getuid?.() !== 0 ? 'needs root (user switch)' : false }, () => {
  const shell = new LocalShell({ runAsUser: 'postgres' });

  after(() => {
    // Whatever a failed test left behind.
    for (const argv of SLEEPS) for (const pid of pidsRunning(argv)) process.kill(pid, 'SIGKILL');
  });

  it('runs as the configured user, with its identity and home', async () => {
    const postgres = await lookupUser('postgres');
    assert.ok(postgres);
    assert.equal(shell.description, 'local (postgres)');
    const result = await shell.run(['sh', '-c', 'id -un; id -u; echo "$HOME $USER $LOGNAME"; pwd'], { timeoutMs: 5000 });
    assert.equal(result.exitCode, 0);
    assert.equal(result.stdout, `postgres\n${postgres.uid}\n${postgres.home} postgres postgres\n${postgres.home}\n`);
    assert.equal(result.timedOut, false);
  });

  it('runs as the controller user when none is given', async () => {
    const own = new LocalShell();
    assert.equal(own.description, 'local (root)');
    assert.equal((await own.run(['id', '-un'], { timeoutMs: 5000 })).stdout, 'root\n');
  });

  it('reports exit codes and stderr, never rejecting for them', async () => {
    const result = await shell.run(['sh', '-c', 'echo out; echo err >&2; exit 7'], { timeoutMs: 5000 });
    assert.deepEqual([result.exitCode, result.stdout, result.stderr], [7, 'out\n', 'err\n']);
    assert.equal((await shell.run(['false'], { timeoutMs: 5000 })).exitCode, 1);
  });

  it('passes arguments verbatim (no shell) and feeds stdin', async () => {
    const nasty = "$(id) `id` ; rm -rf / 'q' \"d\" *";
    assert.equal((await shell.run(['printf', '%s', nasty], { timeoutMs: 5000 })).stdout, nasty);
    const fed = await shell.run(['cat'], { timeoutMs: 5000, stdin: 'secret line\n' });
    assert.equal(fed.stdout, 'secret line\n');
  });

  it('passes extra environment variables', async () => {
    const result = await shell.run(['sh', '-c', 'printf %s "$PGPASSWORD"'], { timeoutMs: 5000, env: { PGPASSWORD: 'pw 1' } });
    assert.equal(result.stdout, 'pw 1');
  });

  it('kills the whole process group on timeout', async () => {
    const [a, b] = [SLEEPS[0], SLEEPS[1]];
    const started = Date.now();
    const result = await shell.run(['sh', '-c', `${a.join(' ')} & ${b.join(' ')}; wait`], { timeoutMs: 300 });
    assert.equal(result.timedOut, true);
    assert.equal(result.exitCode, null);
    assert.ok(Date.now() - started < 1500, `took ${Date.now() - started} ms`);
    assert.deepEqual(await waitGone(a, 2000), []);
    assert.deepEqual(await waitGone(b, 2000), []);
  });

  it('does not wait for a background child that keeps the output open', async () => {
    const bg = SLEEPS[2];
    const started = Date.now();
    const result = await shell.run(['sh', '-c', `${bg.join(' ')} & echo started`], { timeoutMs: 10_000 });
    assert.equal(result.exitCode, 0);
    assert.equal(result.stdout, 'started\n');
    assert.equal(result.timedOut, false);
    assert.ok(Date.now() - started < 2000, `took ${Date.now() - started} ms`);
    for (const pid of pidsRunning(bg)) process.kill(pid, 'SIGKILL');
  });

  it('keeps only the tail of a huge output', async () => {
    const capped = new LocalShell({ runAsUser: 'postgres', maxOutputBytes: 1000 });
    const result = await capped.run(['seq', '1', '200000'], { timeoutMs: 10_000 });
    assert.equal(result.exitCode, 0);
    assert.match(result.stdout, /^\[\.\.\. \d+ bytes of output dropped \.\.\.\]\n/);
    assert.ok(result.stdout.endsWith('199999\n200000\n'));
  });

  it('rejects with CONTROL_CHANNEL naming a missing command', async () => {
    await assert.rejects(
      shell.run(['no-such-command-handyrep'], { timeoutMs: 5000 }),
      (err: unknown) =>
        err instanceof HandyRepError && err.code === 'CONTROL_CHANNEL' && /no-such-command-handyrep/.test(err.message),
    );
  });

  it('rejects with CONTROL_CHANNEL for an unknown user', async () => {
    const ghost = new LocalShell({ runAsUser: 'no-such-user-handyrep' });
    await assert.rejects(
      ghost.run(['true'], { timeoutMs: 5000 }),
      (err: unknown) => err instanceof HandyRepError && err.code === 'CONTROL_CHANNEL',
    );
  });

  it('refuses NUL in arguments', async () => {
    await assert.rejects(
      shell.run(['echo', 'a\0b'], { timeoutMs: 5000 }),
      (err: unknown) => err instanceof HandyRepError && err.code === 'INVALID_PARAMETER',
    );
  });
});
