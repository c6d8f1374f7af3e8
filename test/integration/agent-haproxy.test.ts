/**
 * HAProxy (Debian's package) checking the node agents directly (`check port 8008`), no controller
 * in the data path, real etcd and PostgreSQL (master john, replica paul):
 *   - plain HTTP: writes land on john (/primary), reads on paul (/replica?lag=16MB, measured against
 *     john's published position); checks without credentials are answered (Patroni's behaviour),
 *     wrong credentials get 401;
 *   - agent.require_password and agent.tls_cert/tls_key: no or wrong credentials → 401, the read
 *     password → 200; HAProxy with `check-ssl verify none` and the read password in its check
 *     still routes writes to john;
 *   - 110 wrong passwords from ten other addresses do not shut HAProxy's correct checks out;
 *   - john's agent cut off from etcd fences john; HAProxy stops routing writes to it, and its
 *     /primary answers 503.
 */
import assert from 'node:assert/strict';
import { chownSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Etcd3 } from 'etcd3';
import { AGENT_PORT, isWritable, putMasterRecord, startAgent, waitUntil, type AgentSettings, type RunningAgent } from '../fixtures/agents.js';
import { startCluster, type TestCluster, type TestNode } from '../fixtures/cluster.js';
import { freePort } from '../fixtures/daemon.js';
import { startEtcdCluster, type EtcdCluster } from '../fixtures/etcd.js';
import { postgresUser, runOk } from '../fixtures/exec.js';
import { HAPROXY_TCP_HEADER, landing, startHaproxy, type RunningHaproxy } from '../fixtures/haproxy.js';
import { dropHost, undropHost } from '../fixtures/iptables.js';

const TTL = 5;
const PREFIX = '/handyrep/agenthaproxy/';
const READ_PASSWORD = 'agent-read-pw';
const basic = (password: string): string => `Basic ${Buffer.from(`haproxy:${password}`).toString('base64')}`;

/** Status of GET <path> on a node's agent (0 when it does not answer). */
function agentGet(node: TestNode, path: string, options: { tls?: boolean; authorization?: string; from?: string } = {}): Promise<number> {
  const request = options.tls ? httpsRequest : httpRequest;
  return new Promise((resolve) => {
    const req = request(
      { host: node.host, port: AGENT_PORT, path, method: 'GET', timeout: 2000, rejectUnauthorized: false, headers: options.authorization ? { authorization: options.authorization } : {}, ...(options.from ? { localAddress: options.from } : {}) },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(0));
    req.end();
  });
}

/** Write and read frontends, one backend each, every node checked on its agent. */
function haproxyConfig(nodes: readonly TestNode[], writePort: number, readPort: number, check: { ssl: boolean; authorization: string | null }): string {
  const send = (uri: string): string => (check.authorization === null ? `  option httpchk GET ${uri}` : `  option httpchk\n  http-check send meth GET uri ${uri} hdr Authorization "${check.authorization}"`);
  const servers = nodes.map((n) => `  server ${n.name} ${n.host}:${n.port} check port ${AGENT_PORT}${check.ssl ? ' check-ssl verify none' : ''}`);
  return [
    ...HAPROXY_TCP_HEADER,
    'listen pg_write',
    `  bind 127.0.0.1:${writePort}`,
    send('/primary'),
    '  http-check expect status 200',
    '  default-server inter 200ms fall 1 rise 1 on-marked-down shutdown-sessions',
    ...servers,
    'listen pg_read',
    `  bind 127.0.0.1:${readPort}`,
    send('/replica?lag=16MB'),
    '  http-check expect status 200',
    '  default-server inter 200ms fall 1 rise 1',
    ...servers,
    '',
  ].join('\n');
}

describe('HAProxy checks the node agents (no controller in the data path)', { timeout: 240_000 }, () => {
  let etcd: EtcdCluster;
  let cluster: TestCluster;
  let client: Etcd3;
  let haproxy: RunningHaproxy | null = null;
  let agents: RunningAgent[] = [];
  let writePort = 0;
  let readPort = 0;
  let tlsFiles: { tls_cert: string; tls_key: string };
  const john = (): TestNode => cluster.nodes[0] as TestNode;
  const paul = (): TestNode => cluster.nodes[1] as TestNode;
  const settings = (agent: Record<string, unknown>): AgentSettings => ({
    endpoints: etcd.endpoints,
    prefix: PREFIX,
    ttl: TTL,
    agent: { safety_margin: 2, ...agent },
    // No slow-down after wrong passwords: the guesses below all count at once.
    sections: { passwords: { admin_password: 'agent-admin-pw', read_password: READ_PASSWORD }, daemon: { auth_failure_delay_seconds: 0 } },
  });
  const startAgents = async (agent: Record<string, unknown>): Promise<void> => {
    await Promise.all(agents.map((a) => a.stop('SIGKILL')));
    agents = [startAgent(cluster, john(), settings(agent)), startAgent(cluster, paul(), settings(agent))];
  };
  const restartHaproxy = async (check: { ssl: boolean; authorization: string | null }): Promise<void> => {
    haproxy?.stop();
    haproxy = await startHaproxy(cluster.root, 'haproxy-agents.cfg', haproxyConfig(cluster.nodes, writePort, readPort, check), writePort);
  };
  const lands = async (port: number): Promise<string> => {
    const got = await landing(port, cluster.passwords.handyrep_db_pass).catch((e: Error) => ({ host: `error: ${e.message}`, inRecovery: true }));
    return `${got.host}${got.inRecovery ? ' (read-only)' : ' (writable)'}`;
  };
  const waitLands = async (port: number, expected: string, what: string): Promise<void> => {
    let last = '';
    await waitUntil(what, async () => (last = await lands(port)) === expected, 30_000, 200).catch((err: Error) => {
      throw new Error(`${err.message}; last landing ${last}\n${haproxy?.output().slice(-2000) ?? ''}\n${agents.map((a) => a.output().slice(-1500)).join('\n---\n')}`);
    });
  };

  before(async () => {
    [etcd, cluster] = await Promise.all([startEtcdCluster({ members: 1 }), startCluster({ nodes: 2, ssh: false })]);
    client = new Etcd3({ hosts: etcd.endpoints });
    const cert = join(cluster.root, 'agent.crt');
    const key = join(cluster.root, 'agent.key');
    await runOk('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=handyrep-agent', '-keyout', key, '-out', cert]);
    for (const file of [cert, key]) chownSync(file, postgresUser().uid, postgresUser().gid);
    tlsFiles = { tls_cert: cert, tls_key: key };
    [writePort, readPort] = [await freePort(), await freePort()];
    await putMasterRecord(client, PREFIX, 'john');
    await startAgents({});
  });

  after(async () => {
    for (const member of etcd?.members ?? []) undropHost(member.host);
    haproxy?.stop();
    await Promise.all(agents.map((a) => a.stop('SIGKILL')));
    client?.close();
    await Promise.all([cluster?.stop(), etcd?.stop()]);
  });

  it('plain HTTP: writes land on the master, reads on the replica; open checks, wrong credentials 401', async () => {
    await waitUntil('john /primary 200', async () => (await agentGet(john(), '/primary')) === 200, 30_000);
    await restartHaproxy({ ssl: false, authorization: null });
    await waitLands(writePort, `${john().host} (writable)`, 'writes land on john');
    await waitLands(readPort, `${paul().host} (read-only)`, 'reads land on paul');
    for (let i = 0; i < 5; i++) assert.equal(await lands(writePort), `${john().host} (writable)`);
    assert.equal(await agentGet(john(), '/primary', { authorization: basic(READ_PASSWORD) }), 200);
    assert.equal(await agentGet(john(), '/primary', { authorization: basic('wrong') }), 401);
    assert.equal(await agentGet(paul(), '/metrics', { authorization: basic('wrong') }), 401);
    assert.equal(await agentGet(paul(), '/replica?lag=16MB'), 200);
    assert.equal(await agentGet(paul(), '/replica?lag=0'), 200, 'an idle cluster: paul has all of john\'s published WAL');
  });

  it('TLS and require_password: 401 without or with a wrong password; HAProxy with check-ssl and the read password routes writes to the master', async () => {
    haproxy?.stop();
    await startAgents({ ...tlsFiles, require_password: true });
    await waitUntil('john /primary 200 over https', async () => (await agentGet(john(), '/primary', { tls: true, authorization: basic(READ_PASSWORD) })) === 200, 30_000);
    assert.equal(await agentGet(john(), '/primary', { tls: true }), 401);
    // From another address than HAProxy's (127.0.0.1): a source that sent a wrong password is held
    // back once the total is reached (below), and HAProxy must not share it.
    assert.equal(await agentGet(john(), '/primary', { tls: true, authorization: basic('wrong'), from: '127.0.6.199' }), 401);
    assert.equal(await agentGet(john(), '/metrics', { tls: true }), 401);
    assert.equal(await agentGet(john(), '/primary', { tls: true, authorization: basic('agent-admin-pw') }), 200);
    assert.equal(await agentGet(john(), '/primary'), 0, 'no plain HTTP on a TLS port');
    await restartHaproxy({ ssl: true, authorization: basic(READ_PASSWORD) });
    await waitLands(writePort, `${john().host} (writable)`, 'writes land on john (TLS checks)');
    await waitLands(readPort, `${paul().host} (read-only)`, 'reads land on paul (TLS checks)');

    // Review F6: 110 wrong passwords from ten other addresses (over the daemon section's total of
    // 100) must not shut HAProxy's checks (from 127.0.0.1, the correct password) out.
    const guessers = Array.from({ length: 10 }, (_, i) => `127.0.6.${200 + i}`);
    for (const node of [john(), paul()]) {
      const answers = await Promise.all(guessers.flatMap((from) => Array.from({ length: 11 }, () => agentGet(node, '/primary', { tls: true, authorization: basic('guess'), from }))));
      // 0: no answer within 2 s (110 TLS handshakes at once on a loaded machine); never 200.
      assert.ok(answers.every((code) => code === 401 || code === 429 || code === 0), `guesses answered ${[...new Set(answers)].join(', ')}`);
      assert.ok(answers.filter((code) => code === 401).length >= 10, `guesses answered ${answers.join(',')}`);
      assert.equal(await agentGet(node, '/primary', { tls: true, authorization: basic('guess'), from: guessers[0] }), 429, 'a guesser is refused');
    }
    await new Promise((resolve) => setTimeout(resolve, 1000)); // five check intervals
    for (let i = 0; i < 5; i++) {
      assert.equal(await lands(writePort), `${john().host} (writable)`, 'HAProxy still routes writes to john');
      assert.equal(await lands(readPort), `${paul().host} (read-only)`, 'and reads to paul');
    }
    assert.equal(await agentGet(john(), '/primary', { tls: true, authorization: basic(READ_PASSWORD) }), 200);
  });

  it('the master cut off from etcd fences itself; HAProxy stops routing writes to it', async () => {
    const cutAt = performance.now();
    for (const member of etcd.members) dropHost(member.host, postgresUser().uid);
    await waitUntil('john not writable', async () => !(await isWritable(john())), TTL * 1000 + 5000, 50);
    assert.ok(performance.now() - cutAt < TTL * 1000, 'john stopped before its lease could expire');
    await waitUntil('write port no longer lands on john', async () => !(await lands(writePort)).startsWith(`${john().host} (writable)`), 5000, 100);
    for (let i = 0; i < 5; i++) assert.notEqual(await lands(writePort), `${john().host} (writable)`);
    assert.equal(await agentGet(john(), '/primary', { tls: true, authorization: basic(READ_PASSWORD) }), 503);
  });
});
