/**
 * Deployment `agents`, real etcd, PostgreSQL and agents: the master's host is lost while the
 * replicas' agents are frozen (SIGSTOP), and etcd compacts its history past the master lease's
 * delete before they resume. The lease id they saw has ended, but the history that would rule out
 * a newer lease is gone: they elect on the current leases (engine/lease-current-proof.ts) — not
 * while a live lease without keys exists (it could be the master's, its key deleted by hand),
 * and once it ends. Without the current-leases proof they would refuse lease_end_unproven forever.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { TestNode } from '../fixtures/cluster.js';
import { isWritable, waitUntil } from '../fixtures/agents.js';
import { killHost, readMaster, startAgentsUnder, startElectionBed, stopElectionBed } from '../fixtures/agents-election.js';

const PREFIX = '/handyrep/leasecompact/';
const TTL = 4;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('master lease history compacted away', { timeout: 300_000 }, () => {
  let started: Partial<Awaited<ReturnType<typeof startElectionBed>>> = {};

  before(async () => {
    started = await startElectionBed(PREFIX, TTL);
  });
  after(() => stopElectionBed(started));

  it('the replicas elect on the current leases: not while a keyless lease lives, then once it ended', async () => {
    const { cluster, bed } = started;
    assert.ok(cluster && bed);
    const [john, paul, ringo] = cluster.nodes as [TestNode, TestNode, TestNode];
    await startAgentsUnder(bed, john);
    const leaseKey = Buffer.from(`${PREFIX}master_lease/john`);
    // The replicas' rounds see the key held (they remember the lease id and where they saw it).
    await sleep(2000);

    const replicas = [paul, ringo].map((n) => bed.agents.get(n.name));
    for (const agent of replicas) agent?.child.kill('SIGSTOP');
    let keyless = '';
    try {
      await killHost(bed, john);
      await waitUntil('master_lease/john gone', async () => (await bed.client.kv.range({ key: leaseKey })).kvs.length === 0, 20_000, 200);
      const filler = await bed.client.kv.put({ key: Buffer.from(`${PREFIX}filler`), value: Buffer.from('x') });
      await bed.client.kv.compact({ revision: filler.header.revision, physical: true });
      // A live lease without keys: john's after a restart with its key deleted by hand would look the same.
      keyless = (await bed.client.leaseClient.leaseGrant({ TTL: 60 })).ID;
    } finally {
      for (const agent of replicas) agent?.child.kill('SIGCONT');
    }

    await sleep(TTL * 2 * 1000);
    assert.equal((await readMaster(bed))?.name, 'john', 'no election while a keyless lease lives');
    const logs = (): string => replicas.map((a) => a?.output() ?? '').join('\n');
    assert.match(logs(), /election: not trying \(lease_end_unproven: .*keyless_lease/, 'refused, naming the keyless lease');

    await bed.client.leaseClient.leaseRevoke({ ID: keyless });
    await waitUntil('paul or ringo recorded master', async () => ['paul', 'ringo'].includes((await readMaster(bed))?.name ?? ''), 60_000, 200);
    const winner = (await readMaster(bed))?.name === 'paul' ? paul : ringo;
    await waitUntil(`${winner.name} writable`, () => isWritable(winner), 60_000, 200);
    assert.match(logs(), /election: the master lease of john expired/, 'a replica took the key');
  });
});
