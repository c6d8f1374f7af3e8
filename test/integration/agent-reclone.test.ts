/**
 * Role discovery at start when joining the recorded master is hard (issue 14), against real etcd
 * and real PostgreSQL (john the old master, paul its replica), each agent its own process as the
 * postgres OS user:
 *   - john's timeline forked from paul's and the WAL both would need is gone (wal_keep_size 0,
 *     WAL switches and checkpoints on both) → pg_rewind fails → john's agent moves the old data
 *     aside (kept, with standby.signal in it) and copies paul anew; john streams from paul and is
 *     never writable on the way (sampled every 50 ms);
 *   - the recorded master down → the standby boot fails and is tried again with growing pauses,
 *     each attempt logged with its reason; PostgreSQL stays stopped, and a hand `pg_ctl start`
 *     meanwhile comes up as a standby, never writable; once paul is back john streams from it;
 *   - with agent.reclone off a failed rewind is retried, nothing is moved, and the folder it failed
 *     on, started by hand, comes up read-only.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { TestCluster, TestNode } from '../fixtures/cluster.js';
import { sampleWritable, startAgentBed, type AgentBed } from '../fixtures/agent-bed.js';
import { putMasterRecord, startAgent, waitUntil } from '../fixtures/agents.js';

const PREFIX = '/handyrep/agentreclone/';

/** WAL switches and checkpoints until the segments of the fork point are recycled. */
async function recycleWal(cluster: TestCluster, node: TestNode, table: string): Promise<void> {
  await cluster.psql(node, 'ALTER SYSTEM SET wal_keep_size = 0');
  await cluster.psql(node, 'SELECT pg_reload_conf()');
  for (let i = 0; i < 5; i++) {
    await cluster.psql(node, `INSERT INTO ${table} SELECT generate_series(1, 2000)`);
    await cluster.psql(node, 'SELECT pg_switch_wal()');
    await cluster.psql(node, 'CHECKPOINT');
  }
}

describe('node agent: reclone and retried standby boots', { timeout: 400_000 }, () => {
  let bed: AgentBed;
  const cluster = (): TestCluster => bed.cluster;
  const john = (): TestNode => bed.cluster.nodes[0] as TestNode;
  const paul = (): TestNode => bed.cluster.nodes[1] as TestNode;
  const streamsFromPaul = async (): Promise<boolean> =>
    (await cluster().psql(paul(), "SELECT count(*) FROM pg_stat_replication WHERE application_name = 'john' AND state = 'streaming'").catch(() => '0')) === '1';

  before(async () => {
    bed = await startAgentBed(PREFIX, 2);
  });

  after(async () => {
    await bed?.close();
  });

  it('forked timeline, needed WAL gone → old data moved aside, recloned from paul, streaming, never writable', async () => {
    await cluster().psql(john(), 'CREATE TABLE before_fork (id int)');
    await waitUntil('paul replayed the table', async () => (await cluster().psql(paul(), "SELECT to_regclass('before_fork') IS NOT NULL")) === 't', 20_000);
    await cluster().psql(paul(), 'SELECT pg_promote(true, 60)');
    await cluster().psql(john(), 'CREATE TABLE after_fork (id int)');
    await recycleWal(cluster(), john(), 'after_fork');
    await cluster().psql(paul(), 'CREATE TABLE on_paul (id int)');
    await recycleWal(cluster(), paul(), 'on_paul');
    await john().stop('fast');
    await putMasterRecord(bed.client, PREFIX, 'paul');

    const sampler = sampleWritable([john()]);
    const agent = startAgent(cluster(), john(), { ...bed.settings, agent: { reclone: true } });
    bed.agents.push(agent);
    let sampled: { samples: number; writable: number[] };
    try {
      await waitUntil('john streams from paul', streamsFromPaul, 180_000, 200);
    } finally {
      sampled = await sampler.stop();
    }
    // pg_ctl start -w may return (and the agent log it) a moment after the WAL receiver streams.
    await waitUntil('pg_ctl start -w returned', () => agent.output().includes('started as a standby of paul'), 30_000, 100);
    assert.match(agent.output(), /pg_rewind cannot join this node to paul, recloning it/);
    assert.match(agent.output(), /started as a standby of paul \(recloned: /);
    assert.equal(await cluster().psql(john(), 'SELECT pg_is_in_recovery()'), 't');
    assert.equal(await cluster().psql(john(), "SELECT to_regclass('on_paul') IS NOT NULL AND to_regclass('after_fork') IS NULL"), 't', 'a copy of paul');
    const parent = dirname(john().dataDir);
    const aside = readdirSync(parent).filter((f) => f.startsWith(`${basename(john().dataDir)}.handyrep-old-`));
    assert.equal(aside.length, 1, `old data folder kept: ${readdirSync(parent).join(', ')}`);
    const old = join(parent, aside[0] as string);
    assert.ok(existsSync(join(old, 'PG_VERSION')), 'the old data is intact');
    assert.ok(existsSync(join(old, 'standby.signal')), 'the folder the rewind failed on holds standby.signal (a hand start would be a standby)');
    assert.ok(sampled.samples > 20, `${sampled.samples} samples`);
    assert.equal(sampled.writable[0], 0, `john was writable in ${sampled.writable[0]} of ${sampled.samples} samples`);
    await agent.stop('SIGKILL');
  });

  it('recorded master down → boot retried with growing pauses, never started; a hand start is a standby; paul back → john streams', async () => {
    await john().stop('fast');
    await paul().stop('fast');
    const agent = startAgent(cluster(), john(), bed.settings);
    bed.agents.push(agent);
    await waitUntil('three failed attempts', () => agent.output().includes('attempt 3 failed'), 60_000, 200);
    const out = agent.output();
    assert.match(out, /attempt 1 failed, PostgreSQL not started, next attempt in 2\.0 s: cannot make it a standby of paul: the recorded master paul/);
    assert.match(out, /attempt 2 failed, PostgreSQL not started, next attempt in 4\.0 s/);
    assert.match(out, /attempt 3 failed, PostgreSQL not started, next attempt in 8\.0 s/);
    assert.equal(john().postmasterPid(), null, 'never started while the master is unreachable');
    assert.ok(existsSync(join(john().dataDir, 'standby.signal')), 'standby.signal in place');

    const sampler = sampleWritable([john()]);
    let sampled: { samples: number; writable: number[] };
    try {
      await john().start(); // by hand, behind the agent's back
      assert.equal(await cluster().psql(john(), 'SELECT pg_is_in_recovery()'), 't', 'a hand start comes up as a standby');
      await waitUntil('the agent adopted it', () => agent.output().includes('PostgreSQL already runs: adopted'), 30_000, 200);
      await paul().start();
      await waitUntil('john streams from paul again', streamsFromPaul, 60_000, 200);
    } finally {
      sampled = await sampler.stop();
    }
    assert.equal(sampled.writable[0], 0, `john was writable in ${sampled.writable[0]} of ${sampled.samples} samples`);
  });

  it('agent.reclone off, rewind fails → not recloned, retried; the folder it gave up on, started by hand, is read-only', async () => {
    await Promise.all(bed.agents.map((a) => a.stop('SIGKILL'))); // the earlier agent would demote john's promotion
    const stamp = 'SELECT system_identifier FROM pg_control_system()';
    const before = await cluster().psql(john(), stamp);
    // john (a standby of paul) forks once more: promoted, it writes on its own timeline and recycles its WAL.
    await cluster().psql(john(), 'SELECT pg_promote(true, 60)');
    await cluster().psql(john(), 'CREATE TABLE john_again (id int)');
    await recycleWal(cluster(), john(), 'john_again');
    await john().stop('fast');
    const asideBefore = readdirSync(dirname(john().dataDir)).filter((f) => f.includes('.handyrep-old-')).length;
    const agent = startAgent(cluster(), john(), { ...bed.settings, agent: { reclone: false } });
    bed.agents.push(agent);
    await waitUntil('two failed attempts', () => agent.output().includes('attempt 2 failed'), 60_000, 200);
    assert.match(agent.output(), /attempt 1 failed, PostgreSQL not started, next attempt in 2\.0 s: cannot make it a standby of paul: john: rewind failed, reclone needed: pg_rewind: /);
    assert.doesNotMatch(agent.output(), /recloning/);
    assert.equal(readdirSync(dirname(john().dataDir)).filter((f) => f.includes('.handyrep-old-')).length, asideBefore, 'nothing moved aside');
    assert.equal(john().postmasterPid(), null);

    const sampler = sampleWritable([john()]);
    let sampled: { samples: number; writable: number[] };
    try {
      await john().start(); // by hand, on the folder pg_rewind failed on
      assert.equal(await cluster().psql(john(), 'SELECT pg_is_in_recovery()'), 't', 'comes up as a standby');
      await waitUntil('the agent adopted it', () => agent.output().includes('PostgreSQL already runs: adopted'), 30_000, 200);
      await new Promise((resolve) => setTimeout(resolve, 2000));
    } finally {
      sampled = await sampler.stop();
    }
    assert.equal(sampled.writable[0], 0, `john was writable in ${sampled.writable[0]} of ${sampled.samples} samples`);
    assert.equal(await cluster().psql(john(), "SELECT to_regclass('john_again') IS NOT NULL"), 't', 'its own data, untouched');
    assert.equal(await cluster().psql(john(), stamp), before);
  });
});
