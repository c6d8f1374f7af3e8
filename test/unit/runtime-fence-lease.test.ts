/**
 * The fence of an old master whose agent lease lapsed (agent_lease) when its PostgreSQL is in fact
 * alive and writable (the agent was killed: the documented hole) and slow to answer (a lost SYN,
 * a long round trip): the short deadline may cut the control channel's question only; the database
 * port keeps its full connect timeout, so the writable answer is seen and nothing is promoted.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../src/config/load.js';
import { makeServerStatus } from '../../src/model/status.js';
import { serversFromConfig } from '../../src/runtime/state-sync.js';
import type { TopologyEnv } from '../../src/runtime/topology/env.js';
import { fenceServer } from '../../src/runtime/topology/fence.js';
import { secondMasterRisk } from '../../src/runtime/topology/writable-guard.js';
import { fakeTopologyBase } from '../fixtures/fake-topology-env.js';

const CONFIG = parseConfig(
  [
    'handyrep: {store: etcd}',
    'etcd: {endpoints: ["http://127.0.0.1:2379"], ttl: 4}',
    'failover: {auto_failover: true, unreachable_master: agent_lease}',
    'servers: {john: {hostname: h-john, role: master}, paul: {hostname: h-paul, role: replica}}',
    '',
  ].join('\n'),
  'test.yaml',
);

const after = <T>(ms: number, value: T): Promise<T> => new Promise((resolve) => setTimeout(() => resolve(value), ms));

function slowWritableJohn(): { env: TopologyEnv; done: () => void } {
  const now = new Date().toISOString();
  const servers = serversFromConfig(CONFIG, now);
  for (const s of Object.values(servers)) Object.assign(s, makeServerStatus('unavailable', 'test', now));
  const { base, done } = fakeTopologyBase(servers);
  const ctx = {
    config: CONFIG,
    sqlTarget: (s: { hostname: string }) => ({ host: s.hostname }),
    timeouts: { connectMs: 3000, commandMs: 100, statementMs: 100 },
    // john answers, writable, after 800 ms (past the short deadline, within the connect timeout).
    monitorSessions: { query: async (t: { host: string }) => (t.host === 'h-john' ? after(800, [{ r: false }]) : [{ r: true }]), closeAll: async () => undefined },
  };
  // The control channel to john hangs past the short deadline.
  const restart = { control: async () => after(1500, { ok: false, details: 'ssh: connect timed out' }) };
  const env = {
    ...base,
    ctx: () => ctx,
    plugins: { get: () => restart },
    masterLease: { state: async () => 'released', noteHealthy: async () => undefined },
    quickProbeMs: () => 300,
  } as unknown as TopologyEnv;
  return { env, done };
}

test('lease released, control channel slow, database port answers writable after 800 ms: not fenced', async () => {
  const { env, done } = slowWritableJohn();
  try {
    const fence = await fenceServer(env, 'john');
    assert.equal(fence.fenced, false, JSON.stringify(fence));
  } finally {
    done();
  }
});

test('the same old master is seen writable by the second-master check before a promotion', async () => {
  const { env, done } = slowWritableJohn();
  try {
    assert.match((await secondMasterRisk(env, 'paul')) ?? '', /john accepts writes/);
  } finally {
    done();
  }
});
