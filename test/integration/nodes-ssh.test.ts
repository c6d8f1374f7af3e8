/**
 * SshShell against a real OpenSSH sshd (test/fixtures/cluster.ts, one node on 127.0.2.11:2222,
 * logging in as postgres): commands, quoting, timeouts, connection sharing and recovery, host-key
 * policies and classified connection failures.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { HandyRepError } from '../../src/model/errors.js';
import { SshConnectError, type SshFailureKind } from '../../src/nodes/ssh-errors.js';
import { SshShell, type SshShellOptions } from '../../src/nodes/ssh-shell.js';
import { startCluster, type TestCluster, type TestNode } from '../fixtures/cluster.js';
import { dropHost, undropHost } from '../fixtures/iptables.js';
import { descendantsOf, signal } from '../fixtures/proc.js';

const execFileP = promisify(execFile);
/** An address nothing answers on: iptables drops it. */
const BLACKHOLE = '127.0.2.98';

/** pids of live processes whose argv is exactly `argv`. */
function pidsRunning(argv: readonly string[]): number[] {
  const wanted = `${argv.join('\0')}\0`;
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (/\) Z /.test(readFileSync(`/proc/${entry}/stat`, 'utf8'))) continue;
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

function isConnectError(kind: SshFailureKind, pattern: RegExp): (err: unknown) => boolean {
  return (err: unknown) => {
    assert.ok(err instanceof SshConnectError, `not an SshConnectError: ${String(err)}`);
    assert.equal(err.code, 'CONTROL_CHANNEL');
    assert.equal(err.kind, kind, err.message);
    assert.match(err.message, pattern);
    return true;
  };
}

/** Unique sleeps so that the process checks never see someone else's. */
const SLEEPS = [['sleep', '31.71'], ['sleep', '31.73'], ['sleep', '31.79'], ['sleep', '31.83'], ['sleep', '31.89']] as const;

describe('SshShell (real sshd)', () => {
  let cluster: TestCluster;
  let node: TestNode;
  let scratch = '';
  const shells: SshShell[] = [];

  /** A shell to the test node; closed in after(). */
  const shellFor = (overrides: Partial<SshShellOptions> = {}): SshShell => {
    const shell = new SshShell({
      host: node.host,
      port: node.sshPort,
      user: 'postgres',
      privateKeyPath: cluster.sshKeyPath,
      connectTimeoutMs: 3000,
      hostKeyChecking: 'strict',
      knownHostsPath: cluster.knownHostsPath,
      ...overrides,
    });
    shells.push(shell);
    return shell;
  };

  before(async () => {
    cluster = await startCluster({ nodes: 1, subnet: '127.0.2', firstHost: 11 });
    node = cluster.master;
    scratch = await mkdtemp(join(tmpdir(), 'handyrep-nodes-ssh-'));
  });

  after(async () => {
    await Promise.allSettled(shells.map((shell) => shell.close()));
    undropHost(BLACKHOLE);
    for (const argv of SLEEPS) for (const pid of pidsRunning(argv)) signal(pid, 'SIGKILL');
    await cluster?.stop();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  it('runs a command as the ssh user and reports exit codes and stderr', async () => {
    const shell = shellFor();
    assert.equal(shell.description, 'ssh postgres@127.0.2.11:2222');
    const id = await shell.run(['id', '-un'], { timeoutMs: 10_000 });
    assert.deepEqual([id.exitCode, id.stdout, id.timedOut], [0, 'postgres\n', false]);
    const failed = await shell.run(['sh', '-c', 'echo out; echo err >&2; exit 7'], { timeoutMs: 10_000 });
    assert.deepEqual([failed.exitCode, failed.stdout, failed.stderr], [7, 'out\n', 'err\n']);
    assert.equal((await shell.run(['false'], { timeoutMs: 10_000 })).exitCode, 1);
  });

  it('round-trips shell metacharacters in arguments', async () => {
    const shell = shellFor();
    const values = ['; rm -rf /', '$(id)', '`id`', `it's "quoted"`, 'a\nb', '*', '~', '&& x', '| y', 'héllo 🐘', '', '-n', '$HOME'];
    for (const value of values) {
      assert.equal((await shell.run(['printf', '%s', value], { timeoutMs: 10_000 })).stdout, value);
    }
    const all = await shell.run(['printf', '%s\\0', ...values], { timeoutMs: 10_000 });
    assert.deepEqual(all.stdout.split('\0').slice(0, -1), values);
  });

  it('feeds stdin, and sends EOF when there is none', async () => {
    const shell = shellFor();
    assert.equal((await shell.run(['cat'], { timeoutMs: 10_000, stdin: 'secret\n' })).stdout, 'secret\n');
    const empty = await shell.run(['cat'], { timeoutMs: 5000 });
    assert.deepEqual([empty.exitCode, empty.stdout, empty.timedOut], [0, '', false]);
  });

  it('refuses environment variables for remote commands', async () => {
    await assert.rejects(
      shellFor().run(['true'], { timeoutMs: 5000, env: { PGPASSWORD: 'x' } }),
      (err: unknown) => err instanceof HandyRepError && err.code === 'INVALID_PARAMETER' && !err.message.includes('x '),
    );
  });

  it('kills a command on timeout, with everything it started', async () => {
    const shell = shellFor();
    const [single, first, second] = [SLEEPS[0], SLEEPS[1], SLEEPS[2]];
    let started = Date.now();
    const result = await shell.run([...single], { timeoutMs: 500 });
    assert.equal(result.timedOut, true);
    assert.equal(result.exitCode, null);
    assert.ok(Date.now() - started < 1500, `took ${Date.now() - started} ms`);
    assert.deepEqual(await waitGone(single, 2000), [], 'the remote sleep survived');

    started = Date.now();
    const group = await shell.run(['sh', '-c', `${first.join(' ')} & ${second.join(' ')}; wait`], { timeoutMs: 500 });
    assert.equal(group.timedOut, true);
    assert.ok(Date.now() - started < 1500, `took ${Date.now() - started} ms`);
    assert.deepEqual(await waitGone(first, 2000), [], 'the background sleep survived');
    assert.deepEqual(await waitGone(second, 2000), [], 'the foreground sleep survived');

    // The connection is still good afterwards.
    assert.equal((await shell.run(['echo', 'ok'], { timeoutMs: 5000 })).stdout, 'ok\n');
    assert.equal(shell.connectionsOpened, 1);
  });

  it('does not wait for a background child that keeps the output open', async () => {
    const bg = SLEEPS[3];
    const started = Date.now();
    const result = await shellFor().run(['sh', '-c', `${bg.join(' ')} & echo started`], { timeoutMs: 10_000 });
    assert.deepEqual([result.exitCode, result.stdout, result.timedOut], [0, 'started\n', false]);
    assert.ok(Date.now() - started < 3000, `took ${Date.now() - started} ms`);
    for (const pid of pidsRunning(bg)) signal(pid, 'SIGKILL');
  });

  it('shares one connection between sequential and concurrent commands, queueing beyond the channel limit', async () => {
    const shell = shellFor({ maxChannels: 4 });
    await shell.run(['true'], { timeoutMs: 10_000 });
    const started = Date.now();
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) => shell.run(['sh', '-c', `sleep 0.3; echo ${i}`], { timeoutMs: 10_000 })),
    );
    const elapsed = Date.now() - started;
    assert.deepEqual(
      results.map((r) => r.stdout),
      Array.from({ length: 10 }, (_, i) => `${i}\n`),
    );
    assert.equal(shell.connectionsOpened, 1);
    // 10 commands, 4 channels at a time: three waves of 0.3 s, not one and not ten.
    assert.ok(elapsed >= 850 && elapsed < 3000, `took ${elapsed} ms`);
  });

  it('keeps only the tail of a huge output', async () => {
    const result = await shellFor({ maxOutputBytes: 1000 }).run(['seq', '1', '200000'], { timeoutMs: 10_000 });
    assert.equal(result.exitCode, 0);
    assert.match(result.stdout, /^\[\.\.\. \d+ bytes of output dropped \.\.\.\]\n/);
    assert.ok(result.stdout.endsWith('199999\n200000\n'));
  });

  it('reconnects after close()', async () => {
    const shell = shellFor();
    await shell.run(['true'], { timeoutMs: 10_000 });
    await shell.close();
    await shell.close();
    assert.equal((await shell.run(['echo', 'again'], { timeoutMs: 10_000 })).stdout, 'again\n');
    assert.equal(shell.connectionsOpened, 2);
  });

  it('classifies a stopped sshd as refused, and reconnects once it is back', async () => {
    const shell = shellFor();
    assert.equal((await shell.run(['echo', 'before'], { timeoutMs: 10_000 })).stdout, 'before\n');
    const sshdPid = node.sshd.pid();
    assert.ok(sshdPid !== null);
    // The per-connection sshd processes outlive the listener: kill ours to really cut the link.
    const sessions = descendantsOf(sshdPid);
    await node.sshd.stop();
    try {
      for (const pid of sessions) signal(pid, 'SIGKILL');
      await assert.rejects(shell.run(['true'], { timeoutMs: 5000 }), isConnectError('refused', /refused/));
      await assert.rejects(shellFor().run(['true'], { timeoutMs: 5000 }), isConnectError('refused', /refused/));
    } finally {
      await node.sshd.start();
    }
    assert.equal((await shell.run(['echo', 'after'], { timeoutMs: 10_000 })).stdout, 'after\n');
    assert.equal(shell.connectionsOpened, 2);
  });

  it('drops a hung connection (after a timeout, or an unanswered exec) and reconnects', async () => {
    const sshdPid = node.sshd.pid();
    assert.ok(sshdPid !== null);
    const before = new Set(descendantsOf(sshdPid));
    const shell = shellFor({ connectTimeoutMs: 1000 });
    await shell.run(['true'], { timeoutMs: 10_000 });
    // This connection's server side: the sshd processes that appeared with it.
    const session = descendantsOf(sshdPid).filter((pid) => !before.has(pid));
    assert.ok(session.length > 0);
    // Stops every server-side process of this shell's connections (the current one and dropped ones).
    const freezeSession = (): void => {
      for (const pid of descendantsOf(sshdPid).filter((p) => !before.has(p))) signal(pid, 'SIGSTOP');
    };
    const thawSession = (): void => {
      for (const pid of descendantsOf(sshdPid).filter((p) => !before.has(p))) signal(pid, 'SIGCONT');
    };
    try {
      // A command whose connection freezes under it: timed out on time, connection then dropped.
      const running = shell.run([...SLEEPS[4]], { timeoutMs: 1500 });
      await new Promise((resolve) => setTimeout(resolve, 300));
      freezeSession();
      let started = Date.now();
      const result = await running;
      assert.equal(result.timedOut, true);
      assert.ok(Date.now() - started < 1700, `took ${Date.now() - started} ms`);
      await new Promise((resolve) => setTimeout(resolve, 1200));
      assert.equal((await shell.run(['echo', 'fresh'], { timeoutMs: 10_000 })).stdout, 'fresh\n');
      assert.equal(shell.connectionsOpened, 2);

      // An idle connection that froze: the exec request goes unanswered, the connection is dropped.
      freezeSession();
      started = Date.now();
      await assert.rejects(shell.run(['true'], { timeoutMs: 5000 }), isConnectError('timeout', /no answer to the exec request/));
      assert.ok(Date.now() - started < 1500, `took ${Date.now() - started} ms`);
      assert.equal((await shell.run(['echo', 'fresh'], { timeoutMs: 10_000 })).stdout, 'fresh\n');
      assert.equal(shell.connectionsOpened, 3);
    } finally {
      thawSession();
    }
  });

  it('classifies an address that drops packets as a timeout, within the connect timeout', async () => {
    dropHost(BLACKHOLE);
    try {
      const shell = shellFor({ host: BLACKHOLE, connectTimeoutMs: 1000 });
      const started = Date.now();
      await assert.rejects(shell.run(['true'], { timeoutMs: 5000 }), isConnectError('timeout', /timed out after 1000 ms/));
      const elapsed = Date.now() - started;
      assert.ok(elapsed >= 900 && elapsed < 1700, `took ${elapsed} ms`);
    } finally {
      undropHost(BLACKHOLE);
    }
  });

  it('classifies a refused key, or a missing key file, as auth', async () => {
    const otherKey = join(scratch, 'other_key');
    await execFileP('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', otherKey]);
    await assert.rejects(
      shellFor({ privateKeyPath: otherKey }).run(['true'], { timeoutMs: 5000 }),
      isConnectError('auth', /authentication failed/),
    );
    await assert.rejects(
      shellFor({ privateKeyPath: join(scratch, 'missing_key') }).run(['true'], { timeoutMs: 5000 }),
      isConnectError('auth', /cannot read private key/),
    );
  });

  it('strict: refuses a host missing from known_hosts', async () => {
    const empty = join(scratch, 'known_hosts_empty');
    await writeFile(empty, '');
    await assert.rejects(
      shellFor({ knownHostsPath: empty }).run(['true'], { timeoutMs: 5000 }),
      isConnectError('host-key', /host key for \[127\.0\.2\.11\]:2222 .*is not in known_hosts/),
    );
    assert.equal(await readFile(empty, 'utf8'), '');
  });

  it('accept-new: records an unknown host, then refuses a changed key', async () => {
    const path = join(scratch, 'known_hosts_new');
    const first = shellFor({ knownHostsPath: path, hostKeyChecking: 'accept-new' });
    assert.equal((await first.run(['echo', 'hi'], { timeoutMs: 10_000 })).stdout, 'hi\n');
    const recorded = await readFile(path, 'utf8');
    const expected = (await readFile(cluster.knownHostsPath, 'utf8')).split('\n').find((l) => l.startsWith('[127.0.2.11]:2222 '));
    assert.equal(recorded, `${expected}\n`);
    // A second connection accepts the recorded key without writing again.
    assert.equal((await shellFor({ knownHostsPath: path, hostKeyChecking: 'accept-new' }).run(['true'], { timeoutMs: 10_000 })).exitCode, 0);
    assert.equal(await readFile(path, 'utf8'), recorded);

    const otherHostKey = join(scratch, 'other_host_key');
    await execFileP('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', otherHostKey]);
    const [type, key] = (await readFile(`${otherHostKey}.pub`, 'utf8')).split(' ');
    await writeFile(path, `[127.0.2.11]:2222 ${type} ${key}\n`);
    await assert.rejects(
      shellFor({ knownHostsPath: path, hostKeyChecking: 'accept-new' }).run(['true'], { timeoutMs: 5000 }),
      isConnectError('host-key', /host key for \[127\.0\.2\.11\]:2222 does not match known_hosts/),
    );
    // off: accepts anything.
    const off = shellFor({ knownHostsPath: path, hostKeyChecking: 'off' });
    assert.equal((await off.run(['true'], { timeoutMs: 10_000 })).exitCode, 0);
  });
});
