/**
 * Bad input is refused with a message naming what is wrong, and changes nothing: not the state
 * file, not the handyrep table, not the cluster; and nothing a caller sends reaches a shell
 * (canary commands embedded in names and hostnames never run).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { HandyRep } from '../../src/api/handyrep.js';
import { invokeOperation } from '../../src/api/invoke.js';
import { HandyRepError } from '../../src/model/errors.js';
import { startCluster, type TestCluster } from '../fixtures/cluster.js';
import { writeConfig } from '../fixtures/handyrep-config.js';

let cluster: TestCluster;
let hr: HandyRep;
let configPath: string;
const CANARY = `/tmp/handyrep-canary-${process.pid}`;
const inject = `$(touch ${CANARY})`;
const backtick = `\`touch ${CANARY}\``;

before(async () => {
  cluster = await startCluster({ nodes: 3 });
  configPath = await writeConfig(cluster);
  hr = await HandyRep.open(configPath);
  await hr.init_handyrep_db();
  await hr.verify_all();
});

after(async () => {
  await hr?.close();
  await cluster?.stop();
});

/** What must not change: the state file, the table row, the servers' definitions. */
async function fingerprint(): Promise<string> {
  const file = await readFile(join(cluster.root, 'servers.save'), 'utf8');
  const table = await cluster.psql(cluster.master, 'SELECT version FROM handyrep.handyrep');
  const defs = JSON.stringify(Object.entries(await hr.get_server_info()).map(([n, s]) => [n, s.hostname, s.role, s.enabled, s.port, s.pgdata, s.ssh_user]));
  return `${file.length}|${table.trim()}|${defs}`;
}

type Call = () => Promise<unknown>;
interface Case {
  label: string;
  call: Call;
  /** The error code, or 'FAIL' for an RD refusal. */
  expect: 'INVALID_PARAMETER' | 'UNKNOWN_SERVER' | 'REFUSED' | 'FAIL';
  /** The message must match this (names the offending parameter or value). */
  message: RegExp;
}

const loose = <T>(v: unknown): T => v as T;

const CASES: Case[] = [
  { label: 'poll: name with ; rm -rf', call: () => hr.poll('john; rm -rf /'), expect: 'INVALID_PARAMETER', message: /servername/ },
  { label: 'poll: $(...) in name', call: () => hr.poll(inject), expect: 'INVALID_PARAMETER', message: /servername/ },
  { label: 'poll: backticks in name', call: () => hr.poll(backtick), expect: 'INVALID_PARAMETER', message: /servername/ },
  { label: 'connection_failover: $(...) in newmaster', call: () => hr.connection_failover(inject), expect: 'INVALID_PARAMETER', message: /newmaster/ },
  { label: 'connection_failover: unknown server', call: () => hr.connection_failover('nosuch'), expect: 'UNKNOWN_SERVER', message: /nosuch/ },
  { label: 'poll: unknown server', call: () => hr.poll('ringo'), expect: 'UNKNOWN_SERVER', message: /ringo/ },
  { label: 'poll by name: unknown parameter', call: () => invokeOperation(hr, 'poll', { servername: 'john', force: true }, 'controller'), expect: 'INVALID_PARAMETER', message: /Unrecognized key: "force"/ },
  { label: 'startup: space in name', call: () => hr.startup('a b'), expect: 'INVALID_PARAMETER', message: /servername/ },
  { label: 'shutdown: empty name', call: () => hr.shutdown(''), expect: 'INVALID_PARAMETER', message: /servername/ },
  { label: 'restart: newline in name', call: () => hr.restart('john\nid'), expect: 'INVALID_PARAMETER', message: /servername/ },
  { label: 'shutdown: number as name', call: () => hr.shutdown(loose<string>(42)), expect: 'INVALID_PARAMETER', message: /servername/ },
  { label: 'get_status: bad check_type', call: () => hr.get_status(loose<'poll'>('sometimes')), expect: 'INVALID_PARAMETER', message: /check_type/ },
  { label: 'get_cluster_status: string for boolean', call: () => hr.get_cluster_status(loose<boolean>('yes')), expect: 'INVALID_PARAMETER', message: /verify/ },
  { label: 'read_log: negative', call: () => hr.read_log(-1), expect: 'INVALID_PARAMETER', message: /numlines/ },
  { label: 'read_log: fraction', call: () => hr.read_log(1.5), expect: 'INVALID_PARAMETER', message: /numlines/ },
  { label: 'read_log: string', call: () => hr.read_log(loose<number>('10')), expect: 'INVALID_PARAMETER', message: /numlines/ },
  { label: 'set_verbose: not a boolean', call: () => hr.set_verbose(loose<boolean>('maybe')), expect: 'INVALID_PARAMETER', message: /verbose/ },
  { label: 'get_server_info: number', call: () => hr.get_server_info(loose<string>(7)), expect: 'INVALID_PARAMETER', message: /servername/ },
  { label: 'get_setting: a password', call: () => hr.get_setting(['passwords', 'handyrep_db_pass']), expect: 'REFUSED', message: /password/ },
  { label: 'get_setting: unknown key', call: () => hr.get_setting('no_such_key'), expect: 'INVALID_PARAMETER', message: /no_such_key/ },
  { label: 'add_server: no hostname', call: () => hr.add_server('ringo', {}), expect: 'INVALID_PARAMETER', message: /hostname/ },
  { label: 'add_server: hostname with ;', call: () => hr.add_server('ringo', { hostname: 'h; rm -rf /' }), expect: 'INVALID_PARAMETER', message: /hostname/ },
  { label: 'add_server: hostname with $()', call: () => hr.add_server('ringo', { hostname: inject }), expect: 'INVALID_PARAMETER', message: /hostname/ },
  { label: 'add_server: hostname with newline', call: () => hr.add_server('ringo', { hostname: 'a\nb' }), expect: 'INVALID_PARAMETER', message: /hostname/ },
  { label: 'add_server: port not a number', call: () => hr.add_server('ringo', { hostname: 'h1', port: 'abc' }), expect: 'INVALID_PARAMETER', message: /port/ },
  { label: 'add_server: port out of range', call: () => hr.add_server('ringo', { hostname: 'h1', port: 70000 }), expect: 'INVALID_PARAMETER', message: /port/ },
  { label: 'add_server: pgdata with shell characters', call: () => hr.add_server('ringo', { hostname: 'h1', pgdata: '/tmp/x; rm -rf /' }), expect: 'INVALID_PARAMETER', message: /pgdata/ },
  { label: 'add_server: pgdata starting with -', call: () => hr.add_server('ringo', { hostname: 'h1', pgdata: '-D/tmp/x' }), expect: 'INVALID_PARAMETER', message: /pgdata.*must not start with "-"/ },
  { label: 'add_server: pgdata with .. components', call: () => hr.add_server('ringo', { hostname: 'h1', pgdata: '/var/lib/../../tmp/x' }), expect: 'INVALID_PARAMETER', message: /pgdata.*must not contain "\.\." components/ },
  { label: 'alter_server_def: pgconf with %', call: () => hr.alter_server_def('paul', { pgconf: '/etc/%p' }), expect: 'INVALID_PARAMETER', message: /pgconf.*"%"/ },
  { label: 'add_server: setting a status', call: () => hr.add_server('ringo', { hostname: 'h1', status: 'healthy' }), expect: 'INVALID_PARAMETER', message: /status/ },
  { label: 'add_server: unknown setting', call: () => hr.add_server('ringo', { hostname: 'h1', bogus: 1 }), expect: 'INVALID_PARAMETER', message: /bogus/ },
  { label: 'add_server: existing name', call: () => hr.add_server('john', { hostname: 'h1' }), expect: 'INVALID_PARAMETER', message: /already exists/ },
  { label: 'add_server: bad name', call: () => hr.add_server('bad name!', { hostname: 'h1' }), expect: 'INVALID_PARAMETER', message: /servername/ },
  { label: 'add_server: props not an object', call: () => hr.add_server('ringo', loose<Record<string, unknown>>('hostname=h1')), expect: 'INVALID_PARAMETER', message: /serverprops/ },
  { label: 'alter_server_def: role of an enabled replica', call: () => hr.alter_server_def('paul', { role: 'master' }), expect: 'INVALID_PARAMETER', message: /role/ },
  { label: 'alter_server_def: ssh_user with ;', call: () => hr.alter_server_def('paul', { ssh_user: 'root;id' }), expect: 'INVALID_PARAMETER', message: /ssh_user/ },
  { label: 'alter_server_def: negative priority', call: () => hr.alter_server_def('paul', { failover_priority: -1 }), expect: 'INVALID_PARAMETER', message: /failover_priority/ },
  { label: 'alter_server_def: unknown server', call: () => hr.alter_server_def('ringo', { port: 5433 }), expect: 'UNKNOWN_SERVER', message: /ringo/ },
  { label: 'alter_server_def: status by hand', call: () => hr.alter_server_def('paul', { status_no: 1 }), expect: 'INVALID_PARAMETER', message: /status_no/ },
  { label: 'remove: enabled server', call: () => hr.remove('paul'), expect: 'FAIL', message: /enabled/ },
  { label: 'enable: unknown server', call: () => hr.enable('ringo'), expect: 'UNKNOWN_SERVER', message: /ringo/ },
  { label: 'verify_replica: the master', call: () => hr.verify_replica('john'), expect: 'FAIL', message: /not a replica/ },
  { label: 'reload_conf: missing file', call: () => hr.reload_conf('does-not-exist.yaml'), expect: 'FAIL', message: /does-not-exist/ },
  { label: 'reload_conf: path with shell characters', call: () => hr.reload_conf(`x;${inject}`), expect: 'INVALID_PARAMETER', message: /config_file/ },
  { label: 'validate_server_settings: hostname with |', call: () => hr.validate_server_settings('paul', { hostname: 'a|b' }), expect: 'FAIL', message: /hostname/ },
];

test(`${CASES.length} bad inputs are refused with a clear message and change nothing`, async () => {
  assert.ok(CASES.length >= 30);
  const before1 = await fingerprint();
  for (const c of CASES) {
    let outcome: unknown;
    let error: unknown;
    try {
      outcome = await c.call();
    } catch (err) {
      error = err;
    }
    if (c.expect === 'FAIL') {
      assert.equal(error, undefined, `${c.label}: expected a FAIL RD, got ${String(error)}`);
      const rd = outcome as { result: string; details: string };
      assert.equal(rd.result, 'FAIL', `${c.label}: ${JSON.stringify(rd)}`);
      assert.match(rd.details, c.message, c.label);
    } else {
      assert.ok(error instanceof HandyRepError, `${c.label}: expected ${c.expect}, got ${JSON.stringify(outcome)}`);
      assert.equal(error.code, c.expect, `${c.label}: ${error.message}`);
      assert.match(error.message, c.message, `${c.label}: ${error.message}`);
    }
  }
  assert.equal(await fingerprint(), before1, 'state file, table and definitions unchanged');
  assert.equal(existsSync(CANARY), false, 'no injected command ran');
});

test('a config reload with a bad file changes nothing and names every problem', async () => {
  const bad = join(cluster.root, 'bad.yaml');
  const good = cluster.config();
  const broken = { ...good, failover: { poll_interval: -1 }, servers: { ...(good.servers as object), [`x${inject}`]: { hostname: inject } } };
  await writeFile(bad, stringify(broken), 'utf8');
  const before1 = await fingerprint();
  const rd = await hr.reload_conf(bad);
  assert.equal(rd.result, 'FAIL');
  const problems = (rd as { problems?: string[] }).problems ?? [];
  assert.ok(problems.some((p) => p.startsWith('failover.poll_interval')), problems.join('\n'));
  assert.ok(problems.some((p) => p.startsWith('servers[') && p.includes('invalid name')), problems.join('\n'));
  assert.equal(await fingerprint(), before1);
  assert.equal(await hr.get_setting(['failover', 'poll_interval']), 10, 'old configuration still in force');
  assert.equal(existsSync(CANARY), false);
});

test('an invalid configuration file is refused at open and creates no state', async () => {
  const dir = join(cluster.root, 'bad-open');
  const path = join(cluster.root, 'bad-open.yaml');
  const config = cluster.config({ handyrep: { server_file: `${dir}-servers.save`, connect_timeout_seconds: 0 } });
  await writeFile(path, stringify(config), 'utf8');
  await assert.rejects(HandyRep.open(path), (err: unknown) => {
    assert.ok(err instanceof HandyRepError);
    assert.equal(err.code, 'CONFIG_INVALID');
    assert.match(err.message, /handyrep\.connect_timeout_seconds/);
    return true;
  });
  assert.equal(existsSync(`${dir}-servers.save`), false);
});
