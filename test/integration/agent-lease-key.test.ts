/**
 * `master_lease/<master>` deleted by hand while the master's agent holds its lease (real etcd,
 * three real PostgreSQL nodes with their agents, deployment `agents`, no controller): the replicas'
 * agents do not elect (the key is missing but the lease lives: lease_key_deleted), and the
 * master's agent puts the key back under the same lease at its next round
 * (agent/lease-key-keeper.ts, election/lease-end.ts). The master's agent is frozen (SIGSTOP) for
 * 1.5 s around the delete, within its lease's fresh window, so the replicas' rounds (every 0.5 s)
 * see the key missing before it can come back: without the lease-end rule they would elect then.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { TestNode } from '../fixtures/cluster.js';
import { agentStatus, isWritable, waitUntil } from '../fixtures/agents.js';
import { readMaster, startAgentsUnder, startElectionBed, stopElectionBed } from '../fixtures/agents-election.js';

const PREFIX = '/handyrep/leasekey/';
const TTL = 6;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('a master lease key deleted by hand', { timeout: 300_000 }, () => {
  let started: Partial<Awaited<ReturnType<typeof startElectionBed>>> = {};

  before(async () => {
    started = await startElectionBed(PREFIX, TTL);
  });
  after(() => stopElectionBed(started));

  it('no election while its lease lives, and the master\'s agent puts it back under the same lease', async () => {
    const { cluster, bed } = started;
    assert.ok(cluster && bed);
    const [john, paul, ringo] = cluster.nodes as [TestNode, TestNode, TestNode];
    await startAgentsUnder(bed, john);
    const leaseKey = `${PREFIX}master_lease/john`;
    const leaseOf = async (): Promise<string | null> => (await bed.client.kv.range({ key: Buffer.from(leaseKey) })).kvs[0]?.lease ?? null;
    const held = await leaseOf();
    assert.ok(held !== null && held !== '0', 'john\'s agent holds its master lease');
    // The replicas' rounds see the key held (their elections remember the lease id).
    await sleep(2000);

    // Sampled from before the delete until well past the lease's TTL: john stays the recorded,
    // only writable master.
    let sampling = true;
    const problems: string[] = [];
    let samples = 0;
    const sampler = (async () => {
      while (sampling) {
        const [record, paulWritable, ringoWritable] = await Promise.all([readMaster(bed), isWritable(paul), isWritable(ringo)]);
        samples++;
        if (record?.name !== 'john') problems.push(`the master key names ${record?.name ?? 'nobody'}`);
        if (paulWritable || ringoWritable) problems.push(`${paulWritable ? 'paul' : 'ringo'} is writable`);
        await sleep(100);
      }
    })();

    const johnAgent = bed.agents.get('john');
    assert.ok(johnAgent);
    let back: number;
    try {
      johnAgent.child.kill('SIGSTOP');
      try {
        await bed.client.delete().key(leaseKey);
        await sleep(1500);
        assert.equal(await leaseOf(), null, 'the key stays deleted while john\'s agent is frozen');
      } finally {
        johnAgent.child.kill('SIGCONT');
      }
      back = Math.round(await waitUntil('master_lease/john back', async () => (await leaseOf()) !== null, 10_000));
      assert.equal(await leaseOf(), held, 'put back under the same lease');
      await sleep(TTL * 2 * 1000);
    } finally {
      sampling = false;
      await sampler;
    }

    assert.deepEqual(problems, [], 'john stayed the only recorded and writable master');
    assert.ok(samples > 20, `sampled (${samples})`);
    assert.ok(await isWritable(john), 'john is still writable');
    assert.equal(await agentStatus(john, '/primary'), 200, 'john\'s agent still holds a fresh lease');
    assert.equal((await bed.client.getAll().prefix(`${PREFIX}history/`).keys()).length, 0, 'no failover history entry');
    assert.match(johnAgent.output(), new RegExp(`master_lease/john was missing while this agent holds lease ${held}: put back at revision \\d+`));
    const replicaLogs = ['paul', 'ringo'].map((n) => bed.agents.get(n)?.output() ?? '').join('\n');
    assert.match(replicaLogs, /election: not trying \(lease_key_deleted: master_lease\/john is gone but its lease lives/, 'a replica saw the key missing and refused because the lease lives');
    assert.doesNotMatch(replicaLogs, /election: the master lease of john expired/, 'nobody tried to take the key');
    console.log(`  key back ${back} ms after john's agent resumed; ${samples} samples`);
  });
});
