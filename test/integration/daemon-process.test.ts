/**
 * `handyrep daemon` as a real process through bin/handyrep.js: the V8 flag of the launcher, the
 * loud warning under zero_auth, a second daemon on the same state file refused with a clear
 * message and its own exit code, SIGTERM/SIGINT stopping cleanly (exit 0, state saved, lock
 * released), SIGHUP reopening the log file and reloading the configuration (logrotate), HTTPS with
 * a certificate, and the exit codes of a bad configuration and a busy port.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { EXIT } from '../../src/cli/exit-codes.js';
import { startCluster, type TestCluster } from '../fixtures/cluster.js';
import { basic, freePort, http, spawnHandyrep, startDaemonProcess, waitUntil } from '../fixtures/daemon.js';
import { runOk } from '../fixtures/exec.js';
import { descendantsOf } from '../fixtures/proc.js';
import { writeConfig } from '../fixtures/handyrep-config.js';

let cluster: TestCluster;

before(async () => {
  cluster = await startCluster({ nodes: 2 });
});

after(async () => {
  await cluster?.stop();
});

async function config(file: string, overrides: Record<string, unknown> = {}): Promise<string> {
  const port = await freePort();
  // zero_auth (the default) is allowed on loopback only, and only when said so.
  return writeConfig(cluster, { daemon: { listen_address: '127.0.0.1', listen_port: port, allow_unauthenticated: true }, ...overrides }, file);
}

test('start, warn about zero_auth, refuse a second daemon, stop on SIGTERM with state saved and lock released', async () => {
  const path = await config('process.yaml');
  const daemon = await startDaemonProcess(path);
  try {
    assert.match(daemon.stderr(), /WARNING: the REST API is UNAUTHENTICATED \(authentication_method zero_auth\)/);
    const cmdline = readFileSync(`/proc/${daemon.pid}/cmdline`, 'utf8').split('\0');
    assert.ok(cmdline.includes('--max-semi-space-size=2'), `launched with the V8 flag: ${cmdline.join(' ')}`);
    await waitUntil(async () => ((await http(daemon.url, '/health')).json as { monitor: { cycles: number } }).monitor.cycles > 0, 'a monitoring cycle');
    assert.equal((await http(daemon.url, `/primary/${cluster.master.name}`)).status, 200);
    assert.ok(existsSync(join(cluster.root, 'servers.save.lock')));

    const second = spawnHandyrep(['daemon', '--config', path]);
    assert.equal(await second.exited, EXIT.LOCKED, second.stderr());
    assert.match(second.stderr(), /refusing to start: another HandyRep \(pid \d+\) is using/);
    assert.equal((await http(daemon.url, '/health')).status, 200, 'the first daemon is untouched');
  } finally {
    assert.equal(await daemon.stop('SIGTERM'), 0, daemon.stderr());
  }
  assert.match(daemon.stderr(), /SIGTERM: stopping[\s\S]*stopped/);
  assert.ok(!existsSync(join(cluster.root, 'servers.save.lock')), 'lock released');
  const saved = JSON.parse(readFileSync(join(cluster.root, 'servers.save'), 'utf8')) as { servers: Record<string, { status: string }> };
  assert.equal(saved.servers[cluster.master.name]?.status, 'healthy', 'the observed status was persisted');
  assert.match(readFileSync(join(cluster.root, 'handyrep.log'), 'utf8'), /HandyRep stopped/);
});

test('SIGHUP: the log file is reopened at its path after a rename (logrotate) and the configuration reloaded; the daemon keeps running', async () => {
  const port = await freePort();
  const withPassword = (admin: string) =>
    writeConfig(cluster, { handyrep: { authentication_method: 'simple_password_auth' }, passwords: { admin_password: admin }, daemon: { listen_address: '127.0.0.1', listen_port: port } }, 'hup.yaml');
  const path = await withPassword('hup-admin-1');
  const daemon = await startDaemonProcess(path);
  const logFile = join(cluster.root, 'handyrep.log');
  try {
    assert.equal((await http(daemon.url, '/get_master_name', { headers: { authorization: basic('hup-admin-1') } })).status, 200);
    renameSync(logFile, `${logFile}.1`);
    await withPassword('hup-admin-2');
    process.kill(daemon.pid, 'SIGHUP');
    await waitUntil(async () => /SIGHUP: log reopened, configuration reload done/.test(daemon.stderr()), 'the SIGHUP notice', 10_000);
    assert.equal((await http(daemon.url, '/get_master_name', { headers: { authorization: basic('hup-admin-2') } })).status, 200, 'the new password works');
    assert.equal((await http(daemon.url, '/get_master_name', { headers: { authorization: basic('hup-admin-1') } })).status, 401, 'the old one does not');
    assert.ok(existsSync(logFile), 'a new log file at the original path');
    assert.match(readFileSync(logFile, 'utf8'), /configuration reloaded from .*hup\.yaml[\s\S]*SIGHUP: log file reopened/);
    assert.doesNotMatch(readFileSync(`${logFile}.1`, 'utf8'), /configuration reloaded/, 'nothing after the rename went to the renamed file');
  } finally {
    assert.equal(await daemon.stop('SIGTERM'), 0, daemon.stderr());
  }
});

test('HTTPS with daemon.tls_cert and tls_key; `node bin/handyrep.js` re-runs with the V8 flag; SIGINT stops it cleanly', async () => {
  const cert = join(cluster.root, 'daemon.crt');
  const key = join(cluster.root, 'daemon.key');
  await runOk('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1', '-keyout', key, '-out', cert]);
  const path = await config('tls.yaml', {
    handyrep: { authentication_method: 'simple_password_auth' },
    passwords: { admin_password: 'tls-admin' },
    daemon: { listen_address: '127.0.0.1', listen_port: await freePort(), tls_cert: cert, tls_key: key },
  });
  const daemon = await startDaemonProcess(path, { viaNode: true });
  try {
    const [child] = descendantsOf(daemon.pid);
    assert.ok(child !== undefined && readFileSync(`/proc/${child}/cmdline`, 'utf8').split('\0').includes('--max-semi-space-size=2'));
    assert.match(daemon.url, /^https:\/\//);
    assert.doesNotMatch(daemon.stderr(), /UNAUTHENTICATED/);
    assert.equal((await http(daemon.url, '/health')).status, 200);
    const plain = await http(daemon.url.replace('https:', 'http:'), '/health').catch((err: Error) => err);
    assert.ok(plain instanceof Error || plain.status >= 400, 'plain HTTP is not served');
  } finally {
    assert.equal(await daemon.stop('SIGINT'), 0, daemon.stderr());
  }
});

test('exit codes: invalid configuration (no admin password), unreadable certificate, busy port', async () => {
  const noAdmin = await config('noadmin.yaml', { handyrep: { authentication_method: 'simple_password_auth' } });
  const first = spawnHandyrep(['daemon', '--config', noAdmin]);
  assert.equal(await first.exited, EXIT.CONFIG);
  assert.match(first.stderr(), /passwords\.admin_password: simple_password_auth needs a non-empty admin password/);

  const badTls = await config('badtls.yaml', { daemon: { tls_cert: '/nonexistent.crt', tls_key: '/nonexistent.key' } });
  const second = spawnHandyrep(['daemon', '--config', badTls]);
  assert.equal(await second.exited, EXIT.CONFIG);
  assert.match(second.stderr(), /daemon\.tls_cert: cannot read/);

  const blocker = createServer();
  const port = await freePort();
  await new Promise<void>((resolve) => blocker.listen(port, '127.0.0.1', resolve));
  try {
    const busy = await writeConfig(cluster, { daemon: { listen_address: '127.0.0.1', listen_port: port, allow_unauthenticated: true } }, 'busy.yaml');
    const third = spawnHandyrep(['daemon', '--config', busy]);
    assert.equal(await third.exited, EXIT.LISTEN, third.stderr());
    assert.match(third.stderr(), /cannot listen: .*EADDRINUSE/);
    assert.ok(!existsSync(join(cluster.root, 'servers.save.lock')), 'a failed start releases the lock');
  } finally {
    blocker.close();
  }
  const usage = spawnHandyrep(['no-such-command']);
  assert.equal(await usage.exited, EXIT.USAGE);
});
