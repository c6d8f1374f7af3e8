/**
 * The etcd store settings: defaults, what is accepted, and every refusal naming its key.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError } from '../../src/config/config-error.js';
import { parseConfig } from '../../src/config/load.js';
import { agentsKeepSync, agentsSyncRefusal, deploymentReloadRefusal } from '../../src/runtime/sync/agents-sync.js';
import { masterCheckMethod } from '../../src/config/schema.js';
import { configOnlySettings } from '../../src/config/marked-settings.js';
import { isSecretPath } from '../../src/config/redact.js';

const SERVERS = 'servers: {john: {hostname: 127.0.0.11, role: master}}\n';

function problemsOf(yaml: string): { path: string; message: string }[] {
  try {
    parseConfig(SERVERS + yaml, 'test.yaml');
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    return err.problems.map((p) => ({ path: p.path, message: p.message }));
  }
  return [];
}

describe('etcd store settings', () => {
  it('master_check_method: etcd_lease by default with the etcd store, database_table with the local one', () => {
    assert.equal(masterCheckMethod(parseConfig(SERVERS, 's')), 'database_table');
    assert.equal(masterCheckMethod(parseConfig(`${SERVERS}handyrep: {store: etcd}\netcd: {endpoints: ['http://a:2379']}\n`, 's')), 'etcd_lease');
    assert.equal(masterCheckMethod(parseConfig(`${SERVERS}handyrep: {master_check_method: none}\n`, 's')), 'none');
  });

  it('defaults: local store, no endpoints, computed prefix (null), ttl 10, retry_timeout 10', () => {
    const config = parseConfig(SERVERS, 's');
    assert.equal(config.handyrep.store, 'local');
    assert.deepEqual(config.etcd, { endpoints: [], prefix: null, ca: null, cert: null, key: null, user: null, forward_insecure: false, ttl: 10, retry_timeout: 10 });
    assert.equal(config.passwords['etcd_password'], '');
  });

  it('handyrep.deployment: single by default; agents accepted with etcd endpoints (the agent config needs no etcd store)', () => {
    assert.equal(parseConfig(SERVERS, 's').handyrep.deployment, 'single');
    assert.equal(parseConfig(`${SERVERS}handyrep: {deployment: agents}\netcd: {endpoints: ['http://a:2379']}\n`, 's').handyrep.deployment, 'agents');
  });

  it('deployment agents with synchronous_mode on or strict is accepted; a controller there refuses what would name standbys itself', () => {
    for (const mode of ['on', 'strict'] as const) {
      const config = parseConfig(`${SERVERS}handyrep: {deployment: agents}\netcd: {endpoints: ['http://a:2379']}\nfailover: {synchronous_mode: ${mode}}\n`, 's');
      assert.equal(config.failover.synchronous_mode, mode);
      assert.equal(agentsKeepSync(config), true);
      assert.match(agentsSyncRefusal(config, 'promote') ?? '', new RegExp(`^promote refused: handyrep.deployment is agents with failover.synchronous_mode ${mode}: the master's node agent keeps synchronous_standby_names`));
    }
    const agentsOff = parseConfig(`${SERVERS}handyrep: {deployment: agents}\netcd: {endpoints: ['http://a:2379']}\n`, 's');
    assert.equal(agentsSyncRefusal(agentsOff, 'promote'), null, 'synchronous_mode off: nothing named, nothing refused');
    const promised = { members: ['paul'], quorum: 1, master: 'john', at: '2026-01-01T00:00:00Z', reason: 'agents' };
    assert.match(agentsSyncRefusal(agentsOff, 'promote', promised) ?? '', /^promote refused: handyrep.deployment is agents and the agents recorded a synchronous set \(\[paul\] quorum 1, master john\) though this controller's failover.synchronous_mode is off/, 'files out of step (review s8 S2): the agents\' record promises a quorum');
    assert.equal(agentsSyncRefusal(agentsOff, 'promote', { ...promised, quorum: 0 }), null, 'a record promising nothing: allowed');
    assert.equal(agentsKeepSync(agentsOff), true, 'the agents still own the record (their keeper clears what on left)');
    const ha = parseConfig(`${SERVERS}handyrep: {deployment: ha}\netcd: {endpoints: ['http://a:2379']}\nfailover: {synchronous_mode: on}\n`, 's');
    assert.equal(agentsSyncRefusal(ha, 'promote'), null);
    assert.equal(agentsKeepSync(ha), false);
  });

  it('a reload may not move a controller into or out of deployment agents (the leader key announces it)', () => {
    const of = (deployment: string): ReturnType<typeof parseConfig> => parseConfig(`${SERVERS}handyrep: {deployment: ${deployment}}\netcd: {endpoints: ['http://a:2379']}\n`, 's');
    const rows: [string, string, boolean][] = [
      ['single', 'single', false],
      ['ha', 'single', false],
      ['single', 'ha', false],
      ['agents', 'agents', false],
      ['ha', 'agents', true],
      ['agents', 'ha', true],
      ['single', 'agents', true],
    ];
    for (const [from, to, refused] of rows) {
      const refusal = deploymentReloadRefusal(of(from), of(to));
      assert.equal(refusal !== null, refused, `${from} → ${to}`);
      if (refused) assert.match(refusal ?? '', new RegExp(`handyrep.deployment cannot change from ${from} to ${to} while running.*restart HandyRep`));
    }
  });

  it('a complete etcd store is accepted', () => {
    const config = parseConfig(
      `${SERVERS}handyrep: {store: etcd}\netcd: {endpoints: ['https://10.0.0.1:2379', 'https://[::1]:2379', 'https://etcd-3.example:2379/'], prefix: /ha/main/, ca: /etc/etcd/ca.pem, cert: /etc/etcd/c.pem, key: /etc/etcd/c.key, user: handyrep, ttl: 5, retry_timeout: 2.5}\npasswords: {etcd_password: pw}\n`,
      's',
    );
    assert.equal(config.etcd.endpoints.length, 3);
    assert.equal(config.etcd.prefix, '/ha/main/');
  });

  it('a controller with a ttl under the agent\'s default safety margin is accepted (no agent section: no agent runs with it)', () => {
    const config = parseConfig(`${SERVERS}handyrep: {store: etcd}\netcd: {endpoints: ['http://10.0.0.1:2379'], ttl: 2}\n`, 's');
    assert.equal(config.etcd.ttl, 2);
  });

  const refused: ReadonlyArray<[string, string, string, RegExp]> = [
    ['store etcd without endpoints', 'handyrep: {store: etcd}', 'etcd.endpoints', /handyrep.store is etcd: list the etcd endpoints/],
    ['store etcd with an empty list', 'handyrep: {store: etcd}\netcd: {endpoints: []}', 'etcd.endpoints', /list the etcd endpoints/],
    ['unknown store', 'handyrep: {store: consul}', 'handyrep.store', /./],
    ['endpoint without scheme', "etcd: {endpoints: ['10.0.0.1:2379']}", 'etcd.endpoints[0]', /http:\/\/host:port/],
    ['endpoint without port', "etcd: {endpoints: ['http://10.0.0.1']}", 'etcd.endpoints[0]', /http:\/\/host:port/],
    ['endpoint with credentials', "etcd: {endpoints: ['http://u:p@10.0.0.1:2379']}", 'etcd.endpoints[0]', /no user, path or query/],
    ['endpoint with a path', "etcd: {endpoints: ['http://10.0.0.1:2379/v3']}", 'etcd.endpoints[0]', /no user, path or query/],
    ['endpoint port out of range', "etcd: {endpoints: ['http://10.0.0.1:70000']}", 'etcd.endpoints[0]', /out of range/],
    ['endpoint host not a hostname', "etcd: {endpoints: ['http://bad_host!:2379']}", 'etcd.endpoints[0]', /not a hostname/],
    ['mixed schemes', "etcd: {endpoints: ['http://a:2379', 'https://b:2379']}", 'etcd.endpoints', /mixes http/],
    ['prefix without leading /', 'etcd: {prefix: handyrep/x/}', 'etcd.prefix', /start and end with/],
    ['prefix without trailing /', 'etcd: {prefix: /handyrep/x}', 'etcd.prefix', /start and end with/],
    ['prefix with a control character', 'etcd: {prefix: "/handyrep/\\tx/"}', 'etcd.prefix', /control characters/],
    ['prefix with an empty segment', 'etcd: {prefix: //x/}', 'etcd.prefix', /empty, "." or ".."/],
    ['prefix with ..', 'etcd: {prefix: /a/../}', 'etcd.prefix', /empty, "." or ".."/],
    ['ttl below 2', 'etcd: {ttl: 1}', 'etcd.ttl', /2/],
    ['ttl with a fraction', 'etcd: {ttl: 2.5}', 'etcd.ttl', /whole number/],
    ['retry_timeout zero', 'etcd: {retry_timeout: 0}', 'etcd.retry_timeout', /positive/],
    ['relative ca', "etcd: {endpoints: ['https://a:2379'], ca: ca.pem}", 'etcd.ca', /absolute/],
    ['TLS file with http endpoints', "etcd: {endpoints: ['http://a:2379'], ca: /etc/ca.pem}", 'etcd.ca', /endpoints are http/],
    ['cert without ca', "etcd: {endpoints: ['https://a:2379'], cert: /etc/c.pem, key: /etc/c.key}", 'etcd.ca', /needs the CA/],
    ['cert without key', "etcd: {endpoints: ['https://a:2379'], ca: /etc/ca.pem, cert: /etc/c.pem}", 'etcd.key', /go together/],
    ['key without cert', "etcd: {endpoints: ['https://a:2379'], ca: /etc/ca.pem, key: /etc/c.key}", 'etcd.cert', /go together/],
    ['user without password', 'etcd: {user: handyrep}', 'passwords.etcd_password', /etcd.user is handyrep/],
    ['user not a name', "etcd: {user: 'a b'}", 'etcd.user', /letters, digits/],
    ['etcd_lease with the local store', 'handyrep: {master_check_method: etcd_lease}', 'handyrep.master_check_method', /etcd_lease needs handyrep.store etcd/],
    ['unreachable_master agent_lease with the local store', 'failover: {unreachable_master: agent_lease}', 'failover.unreachable_master', /agent_lease needs handyrep.store etcd/],
    ['database_table with the etcd store', "handyrep: {store: etcd, master_check_method: database_table}\netcd: {endpoints: ['http://a:2379']}", 'handyrep.master_check_method', /must be etcd_lease \(or unset\), not database_table/],
    ['none with the etcd store', "handyrep: {store: etcd, master_check_method: none}\netcd: {endpoints: ['http://a:2379']}", 'handyrep.master_check_method', /not none/],
    ['advertised_url with a password', "daemon: {advertised_url: 'http://u:p@a:8080'}", 'daemon.advertised_url', /user or password/],
    ['advertised_url not http', "daemon: {advertised_url: 'ftp://a'}", 'daemon.advertised_url', /not http or https/],
    ['unknown etcd key', 'etcd: {hosts: [a]}', 'etcd.hosts', /./],
    ['deployment agents without etcd endpoints', 'handyrep: {deployment: agents}', 'etcd.endpoints', /deployment is agents: the agents elect through etcd/],
    ['deployment ha without etcd endpoints', 'handyrep: {deployment: ha}', 'etcd.endpoints', /deployment is ha/],
    ['unknown deployment', 'handyrep: {deployment: swarm}', 'handyrep.deployment', /./],
    ['deployment agents with auto_failover', "handyrep: {deployment: agents}\netcd: {endpoints: ['http://a:2379']}\nfailover: {auto_failover: true}", 'failover.auto_failover', /a controller must not fail over/],
  ];
  for (const [what, yaml, path, message] of refused) {
    it(`refused: ${what} (${path})`, () => {
      const problems = problemsOf(yaml);
      const problem = problems.find((p) => p.path === path);
      assert.ok(problem, `no problem at ${path}; got ${JSON.stringify(problems)}`);
      assert.match(problem.message, message);
    });
  }

  it('what chooses where HandyRep connects is configuration file only; the etcd password is secret', () => {
    const marked = new Set(configOnlySettings().map((m) => m.pattern.join('.')));
    for (const path of ['handyrep.store', 'etcd.endpoints', 'etcd.prefix', 'etcd.ca', 'etcd.cert', 'etcd.key', 'etcd.user']) {
      assert.ok(marked.has(path), `${path} is not marked configuration file only`);
    }
    assert.ok(isSecretPath(['passwords', 'etcd_password']));
  });
});
