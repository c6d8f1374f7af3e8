/**
 * No code execution through the web API (issue 11), against a real daemon on a real 2-node
 * cluster with simple_password_auth:
 * - reload_conf with a config_file naming a configuration whose plugin_dirs hold a plugin that
 *   creates a marker file when loaded: 403 naming config_file, the marker never appears, the
 *   passwords stay, the daemon keeps its own file (also through the CLI talking to the daemon);
 * - add_server / alter_server_def with settings that choose what runs where (control_method
 *   local, pg_bin_dir of an evil pg_ctl that creates a marker): 403 naming the key, nothing
 *   changed; enable and restart afterwards never run the evil binary;
 * - plugin names given through the library are checked against the registry and their kind;
 * - zero_auth: the daemon refuses to start unless it listens on loopback and
 *   allow_unauthenticated is set (both refusals name what is missing), and starts when both hold.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EXIT } from '../../src/cli/exit-codes.js';
import { startDaemon, type RunningDaemon } from '../../src/daemon/daemon.js';
import { startCluster, type TestCluster } from '../fixtures/cluster.js';
import { runCli } from '../fixtures/cli.js';
import { basic, http, type HttpReply } from '../fixtures/daemon.js';
import { writeConfig } from '../fixtures/handyrep-config.js';

const ADMIN = 'sec-api-admin-5b7';
const READ = 'sec-api-read-5b7';
const EVIL_ADMIN = 'sec-api-evil-admin';

let cluster: TestCluster;
let daemon: RunningDaemon | null = null;
let configPath: string;
/** World-writable folder outside the cluster: the evil programs would write their markers here. */
let evilRoot: string;

const secure = {
  handyrep: { authentication_method: 'simple_password_auth' },
  passwords: { admin_password: ADMIN, read_password: READ },
  daemon: { auth_failure_delay_seconds: 0 },
};

before(async () => {
  cluster = await startCluster({ nodes: 2 });
  evilRoot = mkdtempSync(join(tmpdir(), 'handyrep-evil-'));
  chmodSync(evilRoot, 0o777);
});

after(async () => {
  await daemon?.stop();
  await cluster?.stop();
  if (evilRoot) rmSync(evilRoot, { recursive: true, force: true });
});

const as = (password: string | null, path: string, body?: unknown): Promise<HttpReply> =>
  http(daemon?.url ?? '', path, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { ...(password === null ? {} : { authorization: basic(password) }), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });

/** Everything a refused call must leave as it was: definitions, statuses, the saved state. */
async function state(): Promise<string> {
  const info = await as(ADMIN, '/get_server_info');
  return `${info.text}\n${readFileSync(join(cluster.root, 'servers.save'), 'utf8')}`;
}

function rd(reply: HttpReply): { result: string; details: string; parameter?: string; code?: string } {
  return reply.json as { result: string; details: string; parameter?: string; code?: string };
}

test('zero_auth: refused off loopback, refused without allow_unauthenticated (each named), allowed with both', async () => {
  const open = async (file: string, daemonSection: Record<string, unknown>): Promise<string> =>
    writeConfig(cluster, { daemon: { listen_port: 0, ...daemonSection } }, file);
  const offLoopback = await open('zero-wide.yaml', { listen_address: '0.0.0.0', allow_unauthenticated: true });
  await assert.rejects(startDaemon(offLoopback, { monitor: false, notice: () => undefined }), (err: Error) =>
    /zero_auth/.test(err.message) && /daemon\.listen_address 0\.0\.0\.0 is not a loopback address/.test(err.message) && !/allow_unauthenticated is not true/.test(err.message));
  const notAllowed = await open('zero-local.yaml', { listen_address: '127.0.0.1' });
  await assert.rejects(startDaemon(notAllowed, { monitor: false, notice: () => undefined }), (err: Error) =>
    /zero_auth/.test(err.message) && /daemon\.allow_unauthenticated is not true/.test(err.message) && /daemon\.listen_address/.test(err.message));
  const allowed = await open('zero-ok.yaml', { listen_address: '127.0.0.1', allow_unauthenticated: true });
  const notices: string[] = [];
  const running = await startDaemon(allowed, { monitor: false, notice: (line) => notices.push(line) });
  try {
    assert.match(notices.join('\n'), /WARNING: the REST API is UNAUTHENTICATED/);
    assert.equal((await http(running.url, '/get_master_name')).status, 200);
  } finally {
    await running.stop();
  }
});

test('start the daemon with passwords', async () => {
  configPath = await writeConfig(cluster, secure);
  daemon = await startDaemon(configPath, { host: '127.0.0.1', port: 0, monitor: false, notice: () => undefined });
  assert.equal(rd(await as(ADMIN, '/verify_all')).result, 'SUCCESS');
});

test('add_server / alter_server_def over the web: what-runs-where settings refused (403 naming the key), nothing changed, the evil pg_ctl never runs', async () => {
  const marker = join(evilRoot, 'pg_ctl-ran');
  const evilBin = join(evilRoot, 'evilbin');
  mkdirSync(evilBin, { mode: 0o755 });
  for (const program of ['pg_ctl', 'pg_rewind', 'pg_basebackup', 'pg_isready', 'postgres']) {
    writeFileSync(join(evilBin, program), `#!/bin/sh\necho "$0 $*" >> ${marker}\nexit 1\n`, { mode: 0o755 });
  }
  const replica = cluster.nodes.find((n) => n.name !== cluster.master.name);
  assert.ok(replica);
  const before = await state();

  const attempts: [string, Record<string, unknown>, string][] = [
    ['/add_server', { servername: 'ringo', serverprops: { hostname: replica.host, port: replica.port, pgdata: replica.dataDir, control_method: 'local', local_user: 'root' } }, 'control_method'],
    ['/add_server', { servername: 'ringo', serverprops: { hostname: replica.host, pg_bin_dir: evilBin } }, 'pg_bin_dir'],
    ['/add_server', { servername: 'ringo', serverprops: { hostname: replica.host, restart_method: 'restart_systemd' } }, 'restart_method'],
    ['/alter_server_def', { servername: replica.name, serverprops: { pg_bin_dir: evilBin } }, 'pg_bin_dir'],
    ['/alter_server_def', { servername: replica.name, serverprops: { failover_priority: 3, ssh_user: 'root' } }, 'ssh_user'],
    ['/alter_server_def', { servername: replica.name, serverprops: { ssh_key: '/etc/ssh/ssh_host_ed25519_key' } }, 'ssh_key'],
    ['/validate_server_settings', { servername: replica.name, serverdict: { control_method: 'local', pg_bin_dir: evilBin } }, 'control_method'],
  ];
  for (const [path, body, key] of attempts) {
    const reply = await as(ADMIN, path, body);
    assert.equal(reply.status, 403, `${path} ${key}: ${reply.text}`);
    assert.equal(rd(reply).parameter, key, reply.text);
    assert.match(rd(reply).details, new RegExp(`${key}.* can be set in the configuration file only`));
  }
  // The query-string form (settings as extra keys) is refused the same way.
  const form = await as(ADMIN, `/add_server?servername=ringo&hostname=${replica.host}&pg_bin_dir=${encodeURIComponent(evilBin)}`);
  assert.equal(form.status, 403, form.text);
  assert.equal(rd(form).parameter, 'pg_bin_dir');
  assert.equal(await state(), before, 'a refused call changed nothing');

  // What the refused calls would have led to runs the real binaries, or nothing.
  assert.equal((await as(ADMIN, '/enable?servername=ringo')).status, 404, 'ringo was never added');
  const restarted = await as(ADMIN, `/restart?servername=${replica.name}`);
  assert.equal(rd(restarted).result, 'SUCCESS', restarted.text);
  assert.ok(!existsSync(marker), `the evil binary ran: ${existsSync(marker) ? readFileSync(marker, 'utf8') : ''}`);

  // Harmless settings still pass over the web.
  const altered = await as(ADMIN, '/alter_server_def', { servername: replica.name, serverprops: { failover_priority: 3 } });
  assert.equal(rd(altered).result, 'SUCCESS', altered.text);
});

test('reload_conf over the web: config_file is refused (403, named); the evil plugin never loads, passwords and file stay', async () => {
  const marker = join(evilRoot, 'plugin-loaded');
  const plugins = join(evilRoot, 'plugins');
  mkdirSync(plugins);
  writeFileSync(
    join(plugins, 'evil.mjs'),
    `import { writeFileSync } from 'node:fs';\nwriteFileSync(${JSON.stringify(marker)}, String(process.pid));\n` +
      `export default { name: 'evil_poll', kind: 'poll', description: 'evil', async poll() { return { ok: true }; } };\n`,
  );
  const evilConfig = await writeConfig(cluster, { ...secure, passwords: { admin_password: EVIL_ADMIN, read_password: 'evil-read' }, handyrep: { ...secure.handyrep, plugin_dirs: [plugins] } }, 'evil.yaml');
  const before = await state();

  for (const reply of [
    await as(ADMIN, `/reload_conf?config_file=${encodeURIComponent(evilConfig)}`),
    await as(ADMIN, '/reload_conf', { config_file: evilConfig }),
    await as(ADMIN, `/reload_conf?config_file=${encodeURIComponent(configPath)}`),
  ]) {
    assert.equal(reply.status, 403, reply.text);
    assert.equal(rd(reply).parameter, 'config_file');
    assert.equal(rd(reply).code, 'FORBIDDEN');
    assert.match(rd(reply).details, /config_file is refused over the web API/);
  }
  const cli = await runCli(['reload_conf', '--config-file', evilConfig], { HANDYREP_URL: daemon?.url ?? '', HANDYREP_PASSWORD: ADMIN });
  assert.equal(cli.code, EXIT.FAILURE, cli.stderr);
  assert.match(cli.stderr, /reload_conf: reload_conf: config_file is refused over the web API/);

  assert.ok(!existsSync(marker), 'the plugin of the other configuration was never loaded');
  assert.equal((await as(EVIL_ADMIN, '/get_master_name')).status, 401, 'the other file\'s passwords do not apply');
  assert.equal((await as(ADMIN, '/get_master_name')).status, 200, 'the daemon\'s passwords stay');
  assert.deepEqual((await as(READ, '/get_setting?setting=plugin_dirs')).json, []);
  assert.equal(daemon?.hr.configFile, configPath);
  assert.equal(await state(), before);

  // Without config_file, the daemon re-reads its own file.
  const reloaded = await as(ADMIN, '/reload_conf');
  assert.equal(rd(reloaded).result, 'SUCCESS', reloaded.text);
  assert.match(rd(reloaded).details, new RegExp(`reloaded from ${configPath.replaceAll('.', '\\.')}`));
  assert.ok(!existsSync(marker));
});

test('admin functions refuse cross-site browser requests even with the admin password; the CLI form and read functions are unaffected', async () => {
  const before = await state();
  const from = (headers: Record<string, string>, path: string): Promise<HttpReply> => http(daemon?.url ?? '', path, { headers: { authorization: basic(ADMIN), ...headers } });
  const img = await from({ 'sec-fetch-site': 'cross-site' }, `/disable?servername=${cluster.nodes[1]?.name ?? ''}`);
  assert.equal(img.status, 403, img.text);
  assert.match(rd(img).details, /disable refused: a browser request from another site/);
  const form = await from({ origin: 'http://evil.example' }, `/disable?servername=${cluster.nodes[1]?.name ?? ''}`);
  assert.equal(form.status, 403, form.text);
  assert.equal(await state(), before, 'nothing changed');
  assert.equal((await from({ 'sec-fetch-site': 'cross-site' }, '/get_master_name')).status, 200, 'a read function answers (a cross-site page cannot read the reply)');
  assert.equal((await from({}, '/get_master_name')).status, 200);
});

test('the library (the controller itself) may set them, but plugin names are checked against the registry and their kind', async () => {
  const hr = daemon?.hr;
  assert.ok(hr);
  await assert.rejects(hr.add_server('ringo', { hostname: '127.0.0.99', restart_method: 'select_replica_priority' }), (err: Error) =>
    /restart_method: plugin "select_replica_priority" is a select plugin, not a restart plugin/.test(err.message));
  await assert.rejects(hr.alter_server_def(cluster.master.name, { clone_method: 'no_such_clone' }), /clone_method: no plugin named "no_such_clone" \(wanted a clone plugin\)/);
  const added = await hr.add_server('ringo', { hostname: '127.0.0.99', restart_method: 'restart_systemd', pg_bin_dir: '/usr/lib/postgresql/15/bin' });
  assert.equal(added.result, 'SUCCESS', added.details);
  assert.equal((await hr.remove('ringo')).result, 'SUCCESS');
});
