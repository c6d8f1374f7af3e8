import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../../src/config/config-error.js';
import { loadConfigFile, parseConfig } from '../../src/config/load.js';
import { HandyRepError } from '../../src/model/errors.js';

/** Parses `yaml`, expecting it to be refused; returns the error. */
function refuse(yaml: string): ConfigError {
  try {
    parseConfig(yaml, 'test.yaml');
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    assert.equal(err.code, 'CONFIG_INVALID');
    return err;
  }
  assert.fail(`accepted:\n${yaml}`);
}

/** Two servers; a case appends keys to paul's block. */
const TWO_SERVERS = `
servers:
  john: {hostname: 127.0.0.11, role: master}
  paul:
    hostname: 127.0.0.12
`;

/** [what, yaml, exact key path, the reason (the whole message after "path: ", or its start)] */
const INVALID: readonly (readonly [string, string, string, string])[] = [
  ['zero interval', 'failover: {poll_interval: 0}', 'failover.poll_interval', 'must be a positive number of seconds, got 0'],
  ['negative interval', 'failover: {fail_retry_interval: -5}', 'failover.fail_retry_interval', 'must be a positive number of seconds, got -5'],
  ['interval as text', 'failover: {verify_interval: abc}', 'failover.verify_interval', 'expected a number greater than 0, got "abc"'],
  ['negative timeout', 'handyrep: {connect_timeout_seconds: -1}', 'handyrep.connect_timeout_seconds', 'must be a positive number of seconds, got -1'],
  ['zero reminder', 'failover: {refusal_reminder_minutes: 0}', 'failover.refusal_reminder_minutes', 'must be at least 1 minute: a shorter reminder alerts nearly every check again, got 0'],
  ['reminder under a minute', 'failover: {refusal_reminder_minutes: 0.5}', 'failover.refusal_reminder_minutes', 'must be at least 1 minute: a shorter reminder alerts nearly every check again, got 0.5'],
  ['reminder over a day', 'failover: {refusal_reminder_minutes: 1441}', 'failover.refusal_reminder_minutes', 'must be at most 1440 (a day): a longer silence could hide a cluster without a master, got 1441'],
  ['fractional retries', 'failover: {fail_retries: 1.5}', 'failover.fail_retries', 'expected an integer of at least 1, got 1.5'],
  ['zero lag_limit_seconds', 'server_defaults: {lag_limit_seconds: 0}', 'server_defaults.lag_limit_seconds', 'expected a number greater than 0 or null, got 0'],
  ['port as text', `${TWO_SERVERS}    port: abc\n`, 'servers.paul.port', 'expected an integer from 1 to 65535, got "abc"'],
  ['port zero', 'server_defaults: {port: 0}', 'server_defaults.port', 'expected an integer from 1 to 65535, got 0'],
  ['ssh port too big', `${TWO_SERVERS}    ssh_port: 70000\n`, 'servers.paul.ssh_port', 'expected an integer from 1 to 65535, got 70000'],
  ['negative lag limit', `${TWO_SERVERS}    lag_limit: -1\n`, 'servers.paul.lag_limit', 'expected a number of at least 0, got -1'],
  ['boolean as yes', 'failover: {auto_failover: yes}', 'failover.auto_failover', 'expected true or false, got "yes" (write true or false)'],
  ['enabled as text', `${TWO_SERVERS}    enabled: maybe\n`, 'servers.paul.enabled', 'expected true or false, got "maybe"'],
  ['unknown key in handyrep', 'handyrep: {pol_interval: 3}', 'handyrep.pol_interval', 'unknown key'],
  ['old master_check_method name', 'handyrep: {master_check_method: one_hr_master}', 'handyrep.master_check_method', 'one_hr_master was renamed database_table'],
  ['unknown master_check_method', 'handyrep: {master_check_method: corosync_ip}', 'handyrep.master_check_method', 'must be one of etcd_lease, database_table, none'],
  ['unknown key in failover', 'failover: {polinterval: 3}', 'failover.polinterval', 'unknown key (did you mean "poll_interval"?)'],
  ['unknown top-level key', 'srevers: {}', 'srevers', 'unknown key (did you mean "servers"?)'],
  ['unknown key in a server', `${TWO_SERVERS}    colour: blue\n`, 'servers.paul.colour', 'unknown key'],
  ['unknown key in server_defaults', 'server_defaults: {hostname: x}', 'server_defaults.hostname', 'unknown key'],
  ['unknown key in archive', 'archive: {archving: true}', 'archive.archving', 'unknown key (did you mean "archiving"?)'],
  ['unknown key in an extra command', 'extra_failover_commands: {x: {command: a, params: []}}', 'extra_failover_commands.x.params', 'unknown key'],
  ['extra command without command', 'extra_failover_commands: {x: {parameters: []}}', 'extra_failover_commands.x.command', 'required key is missing'],
  ['server name with ; rm', 'servers: {"john; rm -rf /": {hostname: a}}', 'servers["john; rm -rf /"]', 'invalid name: must be 1-63 letters'],
  ['server name with a space', 'servers: {"a b": {hostname: a}}', 'servers["a b"]', 'invalid name: must be 1-63 letters'],
  ['server name with $()', 'servers: {"$(reboot)": {hostname: a}}', 'servers["$(reboot)"]', 'invalid name'],
  ['server name with a newline', 'servers: {"x\\ny": {hostname: a}}', 'servers["x\\ny"]', 'invalid name'],
  ['server name starting with -', 'servers: {"-oProxyCommand": {hostname: a}}', 'servers["-oProxyCommand"]', 'invalid name'],
  ['hostname with $()', 'servers: {paul: {hostname: "$(reboot)"}}', 'servers.paul.hostname', 'must be a hostname (letters, digits, "-" and ".") or an IP address, got "$(reboot)"'],
  ['hostname with ; rm', 'servers: {paul: {hostname: "john; rm -rf /"}}', 'servers.paul.hostname', 'must be a hostname (letters, digits, "-" and ".") or an IP address, got "john; rm -rf /"'],
  ['hostname with a space', 'servers: {paul: {hostname: "a b"}}', 'servers.paul.hostname', 'must be a hostname (letters, digits, "-" and ".") or an IP address, got "a b"'],
  ['hostname with backticks', 'servers: {paul: {hostname: "`id`"}}', 'servers.paul.hostname', 'must be a hostname (letters, digits, "-" and ".") or an IP address, got "`id`"'],
  ['hostname with a newline', 'servers: {paul: {hostname: "a\\nb"}}', 'servers.paul.hostname', 'must be a hostname (letters, digits, "-" and ".") or an IP address, got "a\\nb"'],
  ['hostname starting with -', 'servers: {paul: {hostname: "-oProxyCommand=x"}}', 'servers.paul.hostname', 'must be a hostname'],
  ['server without hostname', 'servers: {x: {role: replica}}', 'servers.x.hostname', 'required key is missing'],
  ['hostname as a number', 'servers: {x: {hostname: 12}}', 'servers.x.hostname', 'expected a hostname or IP address, got 12'],
  ['role with a space', 'servers: {paul: {hostname: a, role: "ma ster"}}', 'servers.paul.role', 'must be 1-63 letters, digits, "_", "." or "-", starting with a letter or digit, got "ma ster"'],
  ['role with $()', 'servers: {paul: {hostname: a, role: "$(reboot)"}}', 'servers.paul.role', 'must be 1-63 letters'],
  ['two enabled masters', 'servers: {john: {hostname: a, role: master}, paul: {hostname: b, role: master}}', 'servers', 'more than one enabled master: john, paul'],
  ['pgdata with a space', 'server_defaults: {pgdata: /var/lib/my data}', 'server_defaults.pgdata', 'must be a path of letters, digits and "_ . / ~ + @ , = : -" only (no spaces, "%" or shell characters), got "/var/lib/my data"'],
  ['pg_bin_dir starting with -', 'server_defaults: {pg_bin_dir: "-oProxyCommand=x"}', 'server_defaults.pg_bin_dir', 'must not start with "-" (it would be read as a command option)'],
  ['pgdata with a .. component', `${TWO_SERVERS}    pgdata: /var/lib/../../etc\n`, 'servers.paul.pgdata', 'must not contain ".." components'],
  ['ssh_key going up', `${TWO_SERVERS}    ssh_key: ../keys/id\n`, 'servers.paul.ssh_key', 'must not contain ".." components'],
  ['archive_directory with %', 'archive: {archive_directory: /wal/%f}', 'archive.archive_directory', 'must be a path of letters, digits and "_ . / ~ + @ , = : -" only (no spaces, "%" or shell characters)'],
  ['archive_script_path starting with -', 'archive: {archive_script_path: "--help"}', 'archive.archive_script_path', 'must not start with "-"'],
  ['server_file ending in ..', 'handyrep: {server_file: "state/.."}', 'handyrep.server_file', 'must not contain ".." components'],
  ['ssh_key with ;', `${TWO_SERVERS}    ssh_key: "/k;reboot"\n`, 'servers.paul.ssh_key', 'must be a path'],
  ['log_file with ;', 'handyrep: {log_file: "x.log; rm -rf /"}', 'handyrep.log_file', 'must be a path'],
  ['plugin dir with a space', 'handyrep: {plugin_dirs: [ok, "my plugins"]}', 'handyrep.plugin_dirs[1]', 'must be a path'],
  ['bad ssh_host_key_checking', 'handyrep: {ssh_host_key_checking: maybe}', 'handyrep.ssh_host_key_checking', 'expected one of "strict", "accept-new", "off", got "maybe"'],
  ['bad control_method', 'server_defaults: {control_method: telnet}', 'server_defaults.control_method', 'expected one of "ssh", "local", "agent", got "telnet"'],
  ['SQL injection in handyrep_table', 'handyrep: {handyrep_table: "x; drop table y"}', 'handyrep.handyrep_table', 'must be a lower-case SQL identifier (a-z, 0-9, "_"), got "x; drop table y"'],
  ['upper-case handyrep_schema', 'handyrep: {handyrep_schema: Public}', 'handyrep.handyrep_schema', 'must be a lower-case SQL identifier'],
  ['empty test_ssh_command', 'handyrep: {test_ssh_command: []}', 'handyrep.test_ssh_command', 'must name a command, got an empty list'],
  ['section not a mapping', 'handyrep: just text', 'handyrep', 'expected a mapping, got "just text"'],
  ['servers as a list', 'servers: [john, paul]', 'servers', 'expected a mapping, got a list of 2 items'],
  ['plugin settings not a mapping', 'plugins: {poll_connect: 3}', 'plugins.poll_connect', 'expected a mapping, got 3'],
  ['a server named __proto__', 'servers: {__proto__: {hostname: a}}', 'servers.__proto__', 'reserved key: "__proto__" cannot be used'],
  ['an alias inside itself', 'plugins: {x: &a {y: *a}}', 'plugins.x.y', 'a YAML alias here refers to a node that contains it'],
  ['YAML syntax error', 'handyrep:\n  cluster_name: [a,\nfailover: {}\n', 'line 3, column 1', 'YAML syntax: Flow sequence in block collection must be sufficiently indented'],
  ['duplicate key', 'failover: {}\nfailover: {}\n', 'line 2, column 1', 'YAML syntax: Map keys must be unique'],
  ['two YAML documents', 'failover: {}\n---\nhandyrep: {}\n', 'line 2, column 1', 'YAML syntax: Source contains multiple documents'],
  ['a list as the file', '- john\n- paul\n', '(file)', 'expected a mapping of sections at the top level, got a list of 2 items'],
  ['a scalar as the file', 'hello\n', '(file)', 'expected a mapping of sections at the top level, got a string'],
  ['an empty file', '', '(file)', 'the file is empty'],
  ['a file of comments', '# nothing yet\n', '(file)', 'the file is empty'],
];

test('at least 20 invalid configurations are tabled', () => {
  assert.ok(INVALID.length >= 20);
});

for (const [what, yaml, path, reason] of INVALID) {
  test(`refused: ${what} → ${path}`, () => {
    const err = refuse(yaml);
    const problem = err.problems.find((p) => p.path === path);
    assert.ok(problem, `no problem at ${path}; got:\n${err.message}`);
    assert.ok(problem.message.startsWith(reason), `at ${path}: "${problem.message}" does not start with "${reason}"`);
    assert.ok(err.message.split('\n').includes(`${path}: ${problem.message}`), err.message);
  });
}

test('every problem of a file is reported at once, one per line, after a summary line', () => {
  const err = refuse(`
handyrep: {pol_interval: 3, handyrep_table: "x; y"}
failover: {poll_interval: 0}
servers:
  john: {hostname: a, role: master}
  paul: {hostname: "a b", role: master, port: abc}
`);
  const paths = err.problems.map((p) => p.path).sort();
  assert.deepEqual(paths, [
    'failover.poll_interval', 'handyrep.handyrep_table', 'handyrep.pol_interval', 'servers', 'servers.paul.hostname', 'servers.paul.port',
  ]);
  const lines = err.message.split('\n');
  assert.equal(lines[0], 'invalid configuration test.yaml (6 problems):');
  assert.deepEqual(lines.slice(1), err.problems.map((p) => `${p.path}: ${p.message}`));
  assert.ok(err instanceof HandyRepError);
});

test('long values are truncated and keys with line breaks stay on one line', () => {
  const err = refuse(`servers: {paul: {hostname: "${'x'.repeat(300)} y"}, "a\\nb": {hostname: h}}`);
  const hostname = err.problems.find((p) => p.path === 'servers.paul.hostname');
  assert.ok(hostname && hostname.message.length < 200 && hostname.message.includes('…'), hostname?.message);
  assert.equal(err.message.split('\n').length, 1 + err.problems.length);
});

test('a disabled second master is allowed', () => {
  const config = parseConfig('servers: {john: {hostname: a, role: master}, paul: {hostname: b, role: master, enabled: false}}', 's');
  assert.equal(config.servers.paul?.enabled, false);
});

test('a valid file gets every default, and server entries keep only what they set', () => {
  const config = parseConfig('servers:\n  john: {hostname: 127.0.0.11, role: master}\n  paul: {hostname: 127.0.0.12, port: 5433}\n', 's');
  assert.equal(config.handyrep.cluster_name, 'handyrep');
  assert.equal(config.handyrep.ssh_host_key_checking, 'accept-new');
  assert.deepEqual(config.handyrep.test_ssh_command, ['true']);
  assert.equal(config.failover.poll_interval, 10);
  assert.equal(config.failover.auto_failover, false);
  assert.equal(config.failover.refusal_reminder_minutes, 10);
  assert.equal(config.archive.archiving, false);
  assert.equal(config.server_defaults.port, 5432);
  assert.equal(config.server_defaults.pgconf, null);
  assert.equal(config.passwords.superuser_pass, '');
  assert.deepEqual(config.extra_failover_commands, {});
  assert.deepEqual(config.plugins, {});
  assert.deepEqual(config.servers.john, { hostname: '127.0.0.11', role: 'master', enabled: true });
  assert.deepEqual(config.servers.paul, { hostname: '127.0.0.12', role: 'replica', enabled: true, port: 5433 });
});

test('sections whose keys are all commented out mean defaults', () => {
  const config = parseConfig('handyrep:\n  # cluster_name: x\nfailover:\nservers:\n', 's');
  assert.equal(config.handyrep.cluster_name, 'handyrep');
  assert.deepEqual(config.servers, {});
});

test('the returned config is deep-frozen', () => {
  const config = parseConfig('servers: {john: {hostname: a, role: master}}\nhandyrep: {plugin_dirs: [p]}', 's');
  assert.ok(Object.isFrozen(config) && Object.isFrozen(config.servers.john) && Object.isFrozen(config.handyrep.plugin_dirs));
  assert.throws(() => {
    (config.failover as { poll_interval: number }).poll_interval = 1;
  }, TypeError);
});

test('a password value never appears in any error message', () => {
  const secret = 'hunter2-S3cret';
  const files = [
    `passwords: {superuser_pass: [${secret}]}`,
    `passwords: {replication_pass: {x: ${secret}}}`,
    `passwords: ${secret}`,
    `passwords: {superuser_pass: "${secret}\n`,
    `passwords:\n\tsuperuser_pass: ${secret}\n`,
    `passwords: {superuser_pass: ${secret}, superuser_pass: ${secret}}`,
    `handyrep: {superuser_pass: ${secret}}`,
    `passwords: {superuser_pass: ${secret}}\nservers: {a: {hostname: "a b"}}`,
    `plugins: {ldap_auth: {bind_password: ${secret}}}\nhandyrep: {admin_password: ${secret}}`,
  ];
  for (const yaml of files) {
    const err = refuse(yaml);
    assert.ok(!err.message.includes(secret), err.message);
    assert.ok(!JSON.stringify(err.problems).includes(secret), yaml);
  }
  const numeric = refuse('passwords: {superuser_pass: 987654321}');
  assert.equal(numeric.problems[0]?.message, 'expected a string, got an integer (value hidden)');
  assert.ok(!numeric.message.includes('987654321'));
});

test('loadConfigFile reads a file and reports where it is', () => {
  const dir = mkdtempSync(join(tmpdir(), 'handyrep-config-'));
  const file = join(dir, 'handyrep.yaml');
  const text = 'servers: {john: {hostname: 127.0.0.11, role: master}}\n';
  writeFileSync(file, text);
  const loaded = loadConfigFile(file);
  assert.deepEqual({ path: loaded.path, dir: loaded.dir, text: loaded.text }, { path: file, dir, text });
  assert.equal(loaded.config.servers.john?.role, 'master');
});

test('loadConfigFile names the file in CONFIG_INVALID and CONFIG_UNREADABLE', () => {
  const dir = mkdtempSync(join(tmpdir(), 'handyrep-config-'));
  const bad = join(dir, 'bad.yaml');
  writeFileSync(bad, 'failover: {poll_interval: 0}\n');
  assert.throws(() => loadConfigFile(bad), (err: unknown) => err instanceof ConfigError && err.message.startsWith(`invalid configuration ${bad} `));
  const missing = join(dir, 'missing.yaml');
  assert.throws(
    () => loadConfigFile(missing),
    (err: unknown) => err instanceof HandyRepError && err.code === 'CONFIG_UNREADABLE' && err.message === `cannot read configuration file ${missing}: no such file`,
  );
  assert.throws(
    () => loadConfigFile(dir),
    (err: unknown) => err instanceof HandyRepError && err.code === 'CONFIG_UNREADABLE' && err.message.includes(dir),
  );
});

test('failover.refusal_reminder_minutes takes fractions and the bound itself', () => {
  assert.equal(parseConfig('failover: {refusal_reminder_minutes: 1.5}\n', 's').failover.refusal_reminder_minutes, 1.5);
  assert.equal(parseConfig('failover: {refusal_reminder_minutes: 1}\n', 's').failover.refusal_reminder_minutes, 1);
  assert.equal(parseConfig('failover: {refusal_reminder_minutes: 1440}\n', 's').failover.refusal_reminder_minutes, 1440);
});
