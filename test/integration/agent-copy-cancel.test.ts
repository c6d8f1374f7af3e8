/**
 * The boot's copy can be cancelled and leaves nothing running (issue 14 review, boot), real etcd,
 * PostgreSQL and agents: john is the recorded master, paul a new node (empty folder but for its
 * configuration files) whose agent clones john with pg_basebackup slowed to 32 kB/s:
 *   - SIGTERM to paul's agent mid-copy → the agent exits within seconds, pg_basebackup is gone,
 *     and the slot the attempt created on john is dropped (no WAL kept for a node that never joined);
 *   - SIGKILL to paul's agent mid-copy → pg_basebackup runs on as an orphan; the agent started again
 *     kills it before its first round (from the file of process groups it left).
 */
import assert from 'node:assert/strict';
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { TestCluster, TestNode } from '../fixtures/cluster.js';
import { startAgentBed, type AgentBed } from '../fixtures/agent-bed.js';
import { basebackupsInto as basebackups } from '../fixtures/proc.js';
import { putMasterRecord, startAgent, waitUntil, type RunningAgent } from '../fixtures/agents.js';

const PREFIX = '/handyrep/agentcopycancel/';
const KEEP = new Set(['postgresql.conf', 'pg_hba.conf']);

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('node agent: a copy in the boot is cancelled with the agent', { timeout: 300_000 }, () => {
  let bed: AgentBed;
  const cluster = (): TestCluster => bed.cluster;
  const john = (): TestNode => bed.cluster.nodes[0] as TestNode;
  const paul = (): TestNode => bed.cluster.nodes[1] as TestNode;
  const slots = (): Promise<string> => cluster().psql(john(), "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'handyrep_paul'");
  const startPaul = (): RunningAgent => {
    const settings = { ...bed.settings, sections: { ...bed.settings.sections, plugins: { clone_basebackup: { extra_parameters: ['--max-rate=32k'] } } } };
    const agent = startAgent(cluster(), paul(), settings);
    bed.agents.push(agent);
    return agent;
  };

  before(async () => {
    bed = await startAgentBed(PREFIX, 2);
    // 8 MB to copy at 32 kB/s: minutes, far longer than the test waits.
    await cluster().psql(john(), "CREATE TABLE filler AS SELECT g, repeat('x', 1000) AS pad FROM generate_series(1, 8000) g");
    await putMasterRecord(bed.client, PREFIX, 'john');
    await paul().stop('fast');
    await cluster().psql(john(), "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = 'handyrep_paul'");
    for (const entry of readdirSync(paul().dataDir)) if (!KEEP.has(entry)) rmSync(join(paul().dataDir, entry), { recursive: true, force: true });
  });

  after(async () => {
    // A clean stop, so that the last copy is killed with its agent.
    await Promise.all(bed.agents.map((a) => a.stop('SIGTERM')));
    await bed?.close();
  });

  it('SIGTERM mid-copy: the agent stops in seconds, pg_basebackup with it, and the attempt\'s slot is dropped', async () => {
    const agent = startPaul();
    await waitUntil('pg_basebackup copying into paul', () => basebackups(paul().dataDir).length > 0, 60_000, 100).catch((err: Error) => {
      throw new Error(`${err.message}\n${agent.output()}`);
    });
    const [copy] = basebackups(paul().dataDir) as [number];
    assert.equal(await slots(), '1', 'the attempt created paul\'s slot on john before copying');
    const t0 = performance.now();
    await agent.stop('SIGTERM');
    const stopMs = performance.now() - t0;
    assert.ok(stopMs < 15_000, `the agent took ${Math.round(stopMs)} ms to stop`);
    await waitUntil('pg_basebackup gone', () => !alive(copy), 5000, 50);
    assert.match(agent.output(), /running boot command\(s\) \(a copy, rewind or initdb\) cancelled/);
    assert.match(agent.output(), /slot handyrep_paul dropped on john/);
    assert.equal(await slots(), '0', 'no slot left for a node that did not join');
  });

  it('SIGKILL mid-copy leaves an orphan pg_basebackup; the agent started again kills it before its first round', async () => {
    const first = startPaul();
    await waitUntil('pg_basebackup copying into paul', () => basebackups(paul().dataDir).length > 0, 60_000, 100).catch((err: Error) => {
      throw new Error(`${err.message}\n${first.output()}`);
    });
    const [orphan] = basebackups(paul().dataDir) as [number];
    await first.stop('SIGKILL');
    await new Promise((resolve) => setTimeout(resolve, 1000));
    assert.equal(alive(orphan), true, 'without the agent the copy runs on (the problem)');
    const second = startPaul();
    await waitUntil('the orphan copy killed', () => !alive(orphan), 30_000, 50).catch((err: Error) => {
      throw new Error(`${err.message}\n${second.output()}`);
    });
    assert.match(second.output(), /killed process group\(s\) \d+ left running by the previous run of this agent/);
  });
});
