/**
 * Secrets never reach the holder of the read password (issue 11). A real daemon on a real 2-node
 * cluster is configured with secrets everywhere they are usually put: passwords (admin, SMTP,
 * replication, a custom one), a webhook whose URL carries a user, a password, a secret path and a
 * token and whose headers carry a bearer token and an API key, a post-failover command with an
 * API key among its arguments (which it also prints on failure, so the key reaches error texts),
 * plugin settings named like tokens, and master_check_parameters. A switchover runs the command
 * and fails the webhook, so the secrets get a chance to reach histories, logs and error texts.
 * Then every path the read password (or nobody) can read is fetched: every read operation of the
 * operations table in its forms, every get_setting section and secret key, /health, /metrics,
 * /openapi.json, the load-balancer checks, error replies, the CLI's output, the handyrep table's
 * config column and the log file. None may contain any secret string.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { OPERATIONS } from '../../src/api/operations.js';
import { configJsonSchema, withoutNull } from '../../src/config/json-schema.js';
import { startDaemon, type RunningDaemon } from '../../src/daemon/daemon.js';
import { startCluster, type TestCluster } from '../fixtures/cluster.js';
import { runCli } from '../fixtures/cli.js';
import { basic, freePort, http, type HttpReply } from '../fixtures/daemon.js';
import { writeConfig } from '../fixtures/handyrep-config.js';

const ADMIN = 'sec-admin-Q7w2x9v4';
const READ = 'sec-read-L3m8n1p6';
const SECRETS = {
  admin: ADMIN,
  smtp: 'smtp-pw-Z8y7x6w5v4',
  replication: 'repl-pw-K2j4h6g8f0',
  custom: 'custom-pw-T5r3e1w9q7',
  hookUser: 'hookuser-B4n6m8',
  hookPassword: 'hookpw-C9v7b5n3m1',
  hookPath: 'hookpath-D2f4g6h8j0',
  hookToken: 'hooktoken-E1r3t5y7u9',
  bearer: 'bearer-F0p9o8i7u6y5',
  apiKey: 'apikey-G5t4r3e2w1q0',
  commandKey: 'sk-cmd-H8j6k4l2z0x9',
  pluginToken: 'plugintoken-J3k5l7m9n1',
  pluginUrlPassword: 'dbpw-K0l9k8j7h6g5',
  masterCheck: 'mcheck-M1n2b3v4c5x6',
};
/** The read password is known to its holder, but is never returned either. */
const NEVER_SHOWN = [...Object.values(SECRETS), READ];

let cluster: TestCluster;
let daemon: RunningDaemon;
let configPath: string;
const checked: string[] = [];

before(async () => {
  cluster = await startCluster({ nodes: 2 });
  const closedPort = await freePort();
  configPath = await writeConfig(cluster, {
    handyrep: {
      authentication_method: 'simple_password_auth',
      push_alert_method: 'push_alert_webhook',
      master_check_parameters: [SECRETS.masterCheck],
    },
    passwords: {
      admin_password: ADMIN,
      read_password: READ,
      smtp_pass: SECRETS.smtp,
      replication_pass: SECRETS.replication,
      custom_api_pass: SECRETS.custom,
    },
    daemon: { auth_failure_delay_seconds: 0 },
    extra_failover_commands: {
      notify: { command: 'local_command', parameters: ['/bin/sh', '-c', 'echo "notify failed with key $1" >&2; exit 3', 'sh', SECRETS.commandKey] },
    },
    plugins: {
      push_alert_webhook: {
        // Nothing listens there: every alert fails, and its failure is logged.
        url: `http://${SECRETS.hookUser}:${SECRETS.hookPassword}@127.0.0.1:${closedPort}/hooks/${SECRETS.hookPath}?token=${SECRETS.hookToken}`,
        headers: { Authorization: `Bearer ${SECRETS.bearer}`, 'X-Api-Key': SECRETS.apiKey },
        timeout_seconds: 2,
      },
      audit_sink: { api_token: SECRETS.pluginToken, endpoint_url: `postgres://audit:${SECRETS.pluginUrlPassword}@db.example/audit`, batch: 10 },
    },
  });
  daemon = await startDaemon(configPath, { host: '127.0.0.1', port: 0, monitor: false, notice: () => undefined });
  const admin = { authorization: basic(ADMIN) };
  assert.equal(((await http(daemon.url, '/init_handyrep_db', { headers: admin })).json as { result: string }).result, 'SUCCESS');
  assert.equal(((await http(daemon.url, '/verify_all', { headers: admin })).json as { result: string }).result, 'SUCCESS');
  // A switchover: runs the post-failover command (which prints its key and fails) and alerts.
  const replica = cluster.nodes.find((n) => n.name !== cluster.master.name)?.name ?? '';
  const switched = await http(daemon.url, `/manual_failover?newmaster=${replica}`, { headers: admin, timeoutMs: 120_000 });
  assert.equal(switched.status, 200, switched.text);
  assert.match(switched.text, /notify/, 'the post-failover command ran');
  // The failed command's stderr (with its key) must have reached an error text: the test is real.
  assert.match(switched.text + JSON.stringify(daemon.hr.events.recent(500)), /notify failed with key/);
});

after(async () => {
  await daemon?.stop();
  await cluster?.stop();
});

/** Asserts `text`, read from `where`, holds no secret. */
function noSecret(where: string, text: string): void {
  checked.push(where);
  for (const secret of NEVER_SHOWN) assert.ok(!text.includes(secret), `${where} shows the secret ${secret}:\n${text.slice(0, 2000)}`);
}

async function read(path: string, password: string | null = READ): Promise<HttpReply> {
  const reply = await http(daemon.url, path, password === null ? {} : { headers: { authorization: basic(password) } });
  noSecret(`${password === null ? 'anonymous' : password === READ ? 'read' : 'admin'} ${path} (${reply.status})`, reply.text);
  return reply;
}

test('every read operation of the operations table, in every form, with the read password', async () => {
  const replica = cluster.nodes[1]?.name ?? '';
  const paths = [
    '/get_status', '/get_status?check_type=poll', '/get_status?check_type=verify',
    '/get_cluster_status', '/get_cluster_status?verify=true', '/get_master_name',
    '/get_server_info', `/get_server_info?servername=${cluster.master.name}`, `/get_server_info?servername=${replica}&verify=true`,
    '/get_servers_by_role', '/get_servers_by_role?serverrole=master',
    '/read_log?numlines=100000', '/failover_history?numentries=200', '/get_controller_history?numentries=200',
  ];
  for (const path of paths) assert.equal((await read(path)).status, 200, path);
  // No etcd here: get_agents is refused (409, REFUSED), its message read for secrets all the same.
  assert.equal((await read('/get_agents')).status, 409);
  paths.push('/get_agents');
  const readOps = OPERATIONS.filter((o) => o.web && o.access === 'read').map((o) => o.name);
  for (const name of readOps) assert.ok(paths.some((p) => p.startsWith(`/${name}`)) || name === 'get_setting', `read operation ${name} is not checked`);
  const history = (await read('/failover_history')).json as unknown[];
  assert.ok(history.length >= 1, 'the switchover is in the history');
});

test('get_setting: every section and every secret-bearing key comes back redacted (passwords refused)', async () => {
  // The web form reads <category>.<setting>: every key of every section, every server, plugin and command.
  const schema = configJsonSchema().properties ?? {};
  const keys: [string, string][] = [
    ...Object.entries(schema).flatMap(([section, node]) =>
      typeof node === 'object' ? Object.keys(withoutNull(node).properties ?? {}).map((key): [string, string] => [section, key]) : []),
    ...cluster.nodes.map((n): [string, string] => ['servers', n.name]),
    ['plugins', 'push_alert_webhook'], ['plugins', 'audit_sink'], ['extra_failover_commands', 'notify'],
  ];
  assert.ok(keys.length > 60, `${keys.length} settings`);
  for (const [category, setting] of keys) {
    const reply = await read(`/get_setting?category=${category}&setting=${setting}`);
    assert.equal(reply.status, category === 'passwords' ? 409 : 200, reply.text);
  }
  const webhook = (await read('/get_setting?category=plugins&setting=push_alert_webhook')).json as { url: string; headers: Record<string, string> };
  assert.equal(webhook.url, 'http://127.0.0.1:' + new URL(webhook.url).port + '/********', 'the URL keeps scheme and host only');
  assert.equal(webhook.headers['Authorization'], '********');
  for (const setting of ['passwords', 'superuser_pass']) {
    const refused = await read(`/get_setting?category=passwords&setting=${setting}`);
    assert.ok(refused.status >= 400, refused.text);
  }
  // The library form of get_setting (a list) over POST JSON, and the CLI's.
  const posted = await http(daemon.url, '/get_setting', { method: 'POST', headers: { authorization: basic(READ), 'content-type': 'application/json' }, body: JSON.stringify({ category: 'plugins', setting: 'audit_sink' }) });
  noSecret('read POST /get_setting plugins.audit_sink', posted.text);
});

test('health, metrics, OpenAPI and the load-balancer checks (no password at all)', async () => {
  for (const path of ['/health', '/metrics', '/openapi.json', `/primary/${cluster.master.name}`, `/replica/${cluster.nodes[1]?.name ?? ''}`, `/replica/${cluster.nodes[1]?.name ?? ''}?lag=16MB`]) {
    await read(path, null);
  }
});

test('error replies: refused admin functions, bad parameters, unknown names, wrong passwords', async () => {
  for (const path of ['/restart?servername=x', '/reload_conf', '/manual_failover?dry_run=true', '/add_server?servername=x&hostname=127.0.0.99']) {
    assert.equal((await read(path)).status, 403, path);
  }
  for (const path of ['/get_setting?category=plugins&setting=nope', '/get_server_info?servername=nosuch', '/get_status?check_type=sometimes', '/no_such_function']) {
    assert.ok((await read(path)).status >= 400, path);
  }
  assert.equal((await read('/get_status', 'not-the-password')).status, 401);
  // The admin's own error replies are masked too (a refused setting quoting nothing secret).
  await read(`/alter_server_def?servername=${cluster.master.name}&pg_bin_dir=/tmp/x`, ADMIN);
});

test('the CLI with the read password prints no secret', async () => {
  const env = { HANDYREP_URL: daemon.url, HANDYREP_PASSWORD: READ };
  for (const args of [['status'], ['get_setting', 'plugins', 'push_alert_webhook', '--json'], ['get_setting', 'extra_failover_commands', 'notify'], ['log', '-n', '1000', '--json'], ['history', '--json'], ['server', 'info', cluster.master.name, '--json']]) {
    const run = await runCli(args, env);
    noSecret(`cli ${args.join(' ')} (exit ${String(run.code)})`, run.stdout + run.stderr);
  }
});

test('the handyrep table (config column and the rest), the log file and servers.save hold no secret', async (t) => {
  let tables = 0;
  for (const node of cluster.nodes) {
    const config = await cluster.psql(node, 'SELECT config::text FROM handyrep.handyrep').catch(() => '');
    if (config.length > 0) tables += 1;
    noSecret(`handyrep table config column on ${node.name}`, config);
    noSecret(`handyrep table, every column, on ${node.name}`, await cluster.psql(node, 'SELECT row_to_json(t)::text FROM handyrep.handyrep t').catch(() => ''));
  }
  assert.ok(tables >= 1, 'the table holds a config');
  noSecret('log file', readFileSync(join(cluster.root, 'handyrep.log'), 'utf8'));
  noSecret('servers.save', readFileSync(join(cluster.root, 'servers.save'), 'utf8'));
  assert.ok(checked.length >= 40, `${checked.length} paths checked`);
  t.diagnostic(`${checked.length} paths checked, none shows any of ${NEVER_SHOWN.length} secrets`);
});
