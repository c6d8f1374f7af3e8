/**
 * HAProxy (Debian's package) in front of a real 3-node cluster, checking each node with
 * `option httpchk GET /primary/<name>` against the daemon (`check addr <daemon> port <port>`):
 * clients of its write port reach the master. When the operations table has manual_failover,
 * the test also fails over through the API (original URL form) and checks that the route moves
 * to the new master and the old one is taken out.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { findOperation } from '../../src/api/operations.js';
import { startDaemon, type RunningDaemon } from '../../src/daemon/daemon.js';
import { startCluster, type TestCluster, type TestNode } from '../fixtures/cluster.js';
import { freePort, http, waitUntil } from '../fixtures/daemon.js';
import { writeConfig } from '../fixtures/handyrep-config.js';
import { HAPROXY_TCP_HEADER, landing as landingAt, startHaproxy, type RunningHaproxy } from '../fixtures/haproxy.js';

let cluster: TestCluster;
let daemon: RunningDaemon;
let haproxy: RunningHaproxy | null = null;
let writePort = 0;

/** One backend per node, each checked at /primary/<name>; the frontend uses the one that is up. */
function haproxyConfig(nodes: readonly TestNode[], daemonHost: string, daemonPort: number, port: number): string {
  const lines = [
    ...HAPROXY_TCP_HEADER,
    'frontend pg_write',
    `  bind 127.0.0.1:${port}`,
    ...nodes.map((n) => `  use_backend pg_${n.name} if { nbsrv(pg_${n.name}) gt 0 }`),
  ];
  for (const n of nodes) {
    lines.push(
      `backend pg_${n.name}`,
      `  option httpchk GET /primary/${n.name}`,
      '  http-check expect status 200',
      // Cut the sessions of a node that stops being the master, so clients reconnect to the new one.
      '  default-server inter 200ms fall 1 rise 1 on-marked-down shutdown-sessions',
      `  server ${n.name} ${n.host}:${n.port} check addr ${daemonHost} port ${daemonPort}`,
    );
  }
  return `${lines.join('\n')}\n`;
}

before(async () => {
  cluster = await startCluster({ nodes: 3 });
  const path = await writeConfig(cluster, { failover: { poll_interval: 0.5, verify_interval: 2 }, daemon: { allow_unauthenticated: true } });
  daemon = await startDaemon(path, { host: '127.0.0.1', port: 0, notice: () => undefined });
  const url = new URL(daemon.url);
  writePort = await freePort();
  haproxy = await startHaproxy(cluster.root, 'haproxy.cfg', haproxyConfig(cluster.nodes, url.hostname, Number(url.port), writePort), writePort);
});

after(async () => {
  haproxy?.stop();
  await daemon?.stop();
  await cluster?.stop();
});

const landing = (): Promise<{ host: string; inRecovery: boolean }> => landingAt(writePort, cluster.passwords.handyrep_db_pass);

async function waitLanding(node: TestNode, what: string, timeoutMs = 30_000): Promise<void> {
  let last = 'no connection yet';
  try {
    await waitUntil(async () => {
      const got = await landing().catch((e: Error) => ({ host: e.message, inRecovery: true }));
      last = JSON.stringify(got);
      return got.host === node.host && !got.inRecovery;
    }, what, timeoutMs);
  } catch (err) {
    throw new Error(`${(err as Error).message}; last landing ${last}`);
  }
}

test('HAProxy routes clients of its write port to the master, checked through /primary/<name>', async () => {
  await waitLanding(cluster.master, 'clients land on the master');
  for (let i = 0; i < 5; i += 1) assert.deepEqual(await landing(), { host: cluster.master.host, inRecovery: false });
});

test('after manual_failover through the API, the route moves to the new master', async (t) => {
  if (!findOperation('manual_failover')) {
    t.skip('manual_failover is not in the operations table yet');
    return;
  }
  const [oldMaster, newMaster] = [cluster.nodes[0] as TestNode, cluster.nodes[1] as TestNode];
  const reply = await http(daemon.url, `/manual_failover?newmaster=${newMaster.name}&remaster=false`, { timeoutMs: 120_000 });
  assert.equal(reply.status, 200, reply.text);
  assert.equal((reply.json as { result: string }).result, 'SUCCESS', reply.text);
  assert.equal((await http(daemon.url, `/primary/${newMaster.name}`)).status, 200);
  assert.equal((await http(daemon.url, `/primary/${oldMaster.name}`)).status, 503);
  await waitLanding(newMaster, 'clients land on the new master');
  for (let i = 0; i < 5; i += 1) assert.deepEqual(await landing(), { host: newMaster.host, inRecovery: false });
});
