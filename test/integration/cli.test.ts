/**
 * The CLI as a separate process against a real daemon on a real 2-node cluster, with simple
 * password authentication: the exit codes of issue 5 (0 success, 1 FAIL or refused password,
 * 2 usage — local checks and the daemon's 400/404 —, 3 cannot reach the daemon), --json output
 * that parses, the client configuration file, server definitions through `server add|remove`, and
 * library mode (--local): refused with exit 4 while the daemon holds the state lock, working once
 * it has stopped.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EXIT } from '../../src/cli/exit-codes.js';
import { startCluster, type TestCluster } from '../fixtures/cluster.js';
import { jsonOf, runCli } from '../fixtures/cli.js';
import { freePort, startDaemonProcess, type DaemonProcess } from '../fixtures/daemon.js';
import { writeConfig } from '../fixtures/handyrep-config.js';

const ADMIN = 'cli-admin-pw';
const READ = 'cli-read-pw';

let cluster: TestCluster;
let daemon: DaemonProcess | null = null;
let configPath: string;
let admin: NodeJS.ProcessEnv;
let reader: NodeJS.ProcessEnv;

before(async () => {
  cluster = await startCluster({ nodes: 2 });
  configPath = await writeConfig(cluster, {
    handyrep: { authentication_method: 'simple_password_auth' },
    passwords: { admin_password: ADMIN, read_password: READ },
    daemon: { listen_address: '127.0.0.1', listen_port: await freePort(), auth_failure_delay_seconds: 0 },
    failover: { poll_interval: 1, verify_interval: 5 },
  });
  daemon = await startDaemonProcess(configPath);
  admin = { HANDYREP_URL: daemon.url, HANDYREP_PASSWORD: ADMIN };
  reader = { HANDYREP_URL: daemon.url, HANDYREP_PASSWORD: READ };
});

after(async () => {
  await daemon?.stop();
  await cluster?.stop();
});

interface Status {
  cluster: { status: string };
  servers: Record<string, { role: string; status: string }>;
}

test('status: a table and the cluster line; --json parses; read password enough', async () => {
  const deadline = Date.now() + 30_000;
  let status: Status | null = null;
  while (Date.now() < deadline) {
    const run = await runCli(['status', '--json', '--check', 'verify'], admin);
    assert.equal(run.code, EXIT.OK, run.stderr);
    status = jsonOf<Status>(run);
    if (status.cluster.status === 'healthy') break;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  assert.equal(status?.cluster.status, 'healthy', JSON.stringify(status));
  assert.equal(status?.servers[cluster.master.name]?.role, 'master');
  const table = await runCli(['status'], reader);
  assert.equal(table.code, EXIT.OK, table.stderr);
  assert.match(table.stdout, /^NAME +ROLE +STATUS +LAG \(MB\) +TIMELINE +MESSAGE$/m);
  assert.match(table.stdout, new RegExp(`^${cluster.master.name} +master +healthy +- +1 `, 'm'));
  assert.match(table.stdout, /^cluster: healthy — /m);
  assert.doesNotMatch(table.stdout, /\x1b\[/, 'no colours when standard output is not a terminal');
  const master = await runCli(['get-master-name'], reader);
  assert.equal(master.stdout, `${cluster.master.name}\n`);
  const setting = await runCli(['get_setting', 'failover', 'poll_interval', '--json'], reader);
  assert.equal(jsonOf(setting), 1);
  const log = await runCli(['log', '-n', '5', '--json'], reader);
  assert.equal(jsonOf<unknown[]>(log).length, 5);
});

test('a FAIL result exits 1: promote while the master runs', async () => {
  const run = await runCli(['promote', cluster.nodes[1]?.name ?? 'paul'], admin);
  assert.equal(run.code, EXIT.FAILURE, run.stderr);
  assert.match(run.stdout, /^FAIL: .*master .* is running/);
  assert.match(run.stdout, /reason_code: master_running/);
  const json = await runCli(['promote', cluster.nodes[1]?.name ?? 'paul', '--json'], admin);
  assert.equal(json.code, EXIT.FAILURE);
  assert.equal(jsonOf<{ result: string }>(json).result, 'FAIL');
  const dry = await runCli(['failover', '--dry-run', '--json'], admin);
  assert.equal(dry.code, EXIT.OK, dry.stderr);
  assert.equal(jsonOf<{ result: string }>(dry).result, 'SUCCESS');
});

test('usage errors exit 2 naming the problem: local checks, and the daemon\'s 400 and 404', async () => {
  const cases: [string[], RegExp][] = [
    [['frobnicate'], /unknown command 'frobnicate'/],
    [['status', '--verbose-please'], /unknown option '--verbose-please'/],
    [['read_log', '--numlines', 'abc'], /--numlines: "abc" is not an integer/],
    [['status', '--check', 'sometimes'], /--check: "sometimes" is not one of cached, poll, verify/],
    [['poll', 'paul;reboot'], /<servername>: must be 1-63 letters.*"paul;reboot"/],
    [['poll', 'nobody'], /no server named "nobody"/],
    [['server', 'add', 'ringo', '--set', 'hostname=127.0.0.99', '--set', 'no_such_setting=1'], /no_such_setting/],
  ];
  for (const [args, pattern] of cases) {
    const run = await runCli(args, admin);
    assert.equal(run.code, EXIT.USAGE, `${args.join(' ')}: ${run.stderr}`);
    assert.match(run.stderr, pattern, args.join(' '));
  }
});

test('authentication: no password or a wrong one exits 1 "authentication failed"; the read password on an admin function "needs the admin password"', async () => {
  const none = await runCli(['status'], { HANDYREP_URL: daemon?.url ?? '' });
  assert.equal(none.code, EXIT.FAILURE);
  assert.match(none.stderr, /authentication failed: .* needs a password/);
  const wrong = await runCli(['status', '--password', 'nope'], { HANDYREP_URL: daemon?.url ?? '' });
  assert.equal(wrong.code, EXIT.FAILURE);
  assert.match(wrong.stderr, /authentication failed: .* refused the password/);
  const readOnly = await runCli(['verify'], reader);
  assert.equal(readOnly.code, EXIT.FAILURE);
  assert.match(readOnly.stderr, /verify_all needs the admin password/);
});

test('cannot reach the daemon: exit 3', async () => {
  const run = await runCli(['status'], { HANDYREP_URL: `http://127.0.0.1:${await freePort()}`, HANDYREP_PASSWORD: ADMIN });
  assert.equal(run.code, EXIT.UNREACHABLE);
  assert.match(run.stderr, /cannot reach the HandyRep daemon at http:\/\/127\.0\.0\.1:\d+: connection refused/);
});

test('the client configuration file; server add, info and remove through the aliases', async () => {
  const client = join(cluster.root, 'client.yaml');
  writeFileSync(client, `url: ${daemon?.url}\npassword: ${ADMIN}\n`, { mode: 0o600 });
  const add = await runCli(['server', 'add', 'ringo', '--client-config', client, '--set', 'hostname=127.0.0.99', '--set', 'port=5433']);
  assert.equal(add.code, EXIT.OK, add.stderr + add.stdout);
  assert.match(add.stdout, /^SUCCESS: /);
  const info = await runCli(['server', 'info', 'ringo', '--json'], { HANDYREP_CLIENT_CONFIG: client });
  const ringo = jsonOf<Record<string, { port: number; enabled: boolean; hostname: string }>>(info).ringo;
  assert.deepEqual([ringo?.hostname, ringo?.port, ringo?.enabled], ['127.0.0.99', 5433, false]);
  const remove = await runCli(['server', 'remove', 'ringo', '--client-config', client]);
  assert.equal(remove.code, EXIT.OK, remove.stderr + remove.stdout);
  const gone = await runCli(['server', 'info', 'ringo', '--client-config', client]);
  assert.equal(gone.code, EXIT.USAGE, 'unknown server after removal');
});

test('--local: exit 4 while the daemon holds the state lock (saying so), then library mode once it has stopped', async () => {
  const locked = await runCli(['status', '--local', '--config', configPath]);
  assert.equal(locked.code, EXIT.LOCKED, locked.stderr);
  assert.match(locked.stderr, /cannot run in library mode \(--local\): another HandyRep \(pid \d+\)[\s\S]*daemon[\s\S]*drop --local/);
  assert.equal(await daemon?.stop(), 0);
  daemon = null;
  const local = await runCli(['status', '--local', '--config', configPath]);
  assert.equal(local.code, EXIT.OK, local.stderr);
  assert.match(local.stdout, new RegExp(`^${cluster.master.name} +master `, 'm'));
  const verify = await runCli(['verify_master', '--local', '--json'], { HANDYREP_CONFIG: configPath });
  assert.equal(verify.code, EXIT.OK, verify.stderr);
  assert.equal(jsonOf<{ result: string }>(verify).result, 'SUCCESS');
  const unknown = await runCli(['poll', 'nobody', '--local', '--config', configPath]);
  assert.equal(unknown.code, EXIT.USAGE);
  assert.match(unknown.stderr, /nobody/);
});
