/**
 * A command queued behind a long step of the agent's own boot (issue 14), real etcd, PostgreSQL and
 * agents, the controller's real waiting code (AgentShell over the test's leader key; no daemon): john
 * is the recorded master, paul a new node whose agent copies john at 32 kB/s (minutes).
 *   - during the copy paul's member key lives on past two TTLs (its lease renewed by the boot's own
 *     timer), saying `boot_copy` from john since when;
 *   - a `pg_ctl status` sent to paul meanwhile (time limit ten minutes) is answered within seconds:
 *     refused (busy), "busy: boot copy since …";
 *   - paul's agent SIGKILLed mid-copy: its member key expires within the TTL (what the agent-gone
 *     check needs); started again, the agent kills the orphan copy, copies again and paul streams.
 * Then the rewind: paul (a stopped standby of john, holding data) booted by a new agent while john's
 * checkpointer is SIGSTOPped, so the boot's rewind step waits in the master's CHECKPOINT:
 *   - paul's member record says `boot_step` rewind from john, kept alive past two TTLs;
 *   - a `pg_ctl status` (time limit ten minutes) is answered within seconds: refused (busy), "busy:
 *     boot rewind since …"; the checkpointer continued, paul starts as john's standby and its
 *     record names no step any more.
 */
import assert from 'node:assert/strict';
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { TestNode } from '../fixtures/cluster.js';
import { startAgentBed, type AgentBed } from '../fixtures/agent-bed.js';
import { basebackupsInto as basebackups } from '../fixtures/proc.js';
import { startAgent, putMasterRecord, waitUntil, type AgentSettings, type RunningAgent } from '../fixtures/agents.js';
import { parseConfig } from '../../src/config/load.js';
import { createEtcdContext, type EtcdContext } from '../../src/store/etcd/client.js';
import { AgentShell } from '../../src/nodes/agent-shell.js';
import { HandyRepError } from '../../src/model/errors.js';

const PREFIX = '/handyrep/bootcopybusy/';
const KEEP = new Set(['postgresql.conf', 'pg_hba.conf']);
const TTL = 5;

describe('node agent: a command queued behind its boot copy or rewind is answered busy at once', { timeout: 500_000 }, () => {
  let bed: AgentBed;
  let settings: AgentSettings;
  let ctx: EtcdContext;
  let shell: AgentShell;
  const john = (): TestNode => bed.cluster.nodes[0] as TestNode;
  const paul = (): TestNode => bed.cluster.nodes[1] as TestNode;
  const member = async (): Promise<Record<string, unknown> | null> => {
    const text = await bed.client.get(`${PREFIX}members/paul`).string();
    return text === null ? null : (JSON.parse(text) as Record<string, unknown>);
  };
  const start = (s: AgentSettings): RunningAgent => {
    const agent = startAgent(bed.cluster, paul(), s);
    bed.agents.push(agent);
    return agent;
  };

  before(async () => {
    bed = await startAgentBed(PREFIX, 2);
    settings = { ...bed.settings, ttl: TTL, sections: { ...bed.settings.sections, handyrep: { store: 'etcd' }, server_defaults: { control_method: 'agent' } } };
    // 8 MB: a copy at 32 kB/s takes minutes.
    await bed.cluster.psql(john(), "CREATE TABLE filler AS SELECT g, repeat('x', 1000) AS pad FROM generate_series(1, 8000) g");
    await putMasterRecord(bed.client, PREFIX, 'john');
    await paul().stop('fast');
    await bed.cluster.psql(john(), "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = 'handyrep_paul'");
    for (const entry of readdirSync(paul().dataDir)) if (!KEEP.has(entry)) rmSync(join(paul().dataDir, entry), { recursive: true, force: true });
    // The controller's side: a leader key under a lease of its own (the term the agents compare), and its channel to paul.
    ctx = createEtcdContext(parseConfig(JSON.stringify({ etcd: { endpoints: bed.settings.endpoints, prefix: PREFIX, ttl: TTL, retry_timeout: 2 } }), 'test'));
    const leaseId = (await ctx.client.leaseClient.leaseGrant({ TTL: 600 })).ID;
    const value = JSON.stringify({ controller_id: 'test', api_url: null, since: new Date().toISOString() });
    const term = (await ctx.client.kv.put({ key: Buffer.from(ctx.keys.leader), value: Buffer.from(value), lease: leaseId })).header.revision;
    shell = new AgentShell('paul', {
      ctx,
      leadership: { current: { term, leaseId, record: { controller_id: 'test', api_url: null, since: 'x' }, value }, markLost: () => undefined },
      controllerId: 'test',
      pickupMs: 5000,
      identify: () => ({ testCommand: ['true'], archiveDirectory: null, noArchiveFile: '/nonexistent', serverAt: () => null }),
    });
  });

  /** john's checkpointer, while it is held (SIGSTOP): continued whatever happens. */
  let heldCheckpointer: number | null = null;
  const continueCheckpointer = (): void => {
    if (heldCheckpointer !== null) process.kill(heldCheckpointer, 'SIGCONT');
    heldCheckpointer = null;
  };

  after(async () => {
    continueCheckpointer();
    // A clean stop: the copy is killed with its agent.
    await Promise.all(bed.agents.map((a) => a.stop('SIGTERM')));
    ctx?.close();
    await bed?.close();
  });

  it('member key alive and saying boot_copy during the copy; a command answered busy in seconds; the key expires after a SIGKILL', async () => {
    const first = start({ ...settings, sections: { ...settings.sections, plugins: { clone_basebackup: { extra_parameters: ['--max-rate=32k'] } } } });
    let second: RunningAgent | null = null;
    try {
      await waitUntil('pg_basebackup copying into paul', () => basebackups(paul().dataDir).length > 0, 60_000, 100);
      const copyingAt = performance.now();
      const record = await member();
      const copy = record?.['boot_copy'] as { source: string; since: string; reclone: boolean } | undefined;
      assert.equal(copy?.source, 'john', JSON.stringify(record));
      assert.equal(copy?.reclone, false);
      assert.equal(record?.['postgres'], 'stopped');
      // Two TTLs into the copy: a member key without renewals would have expired.
      const observed = record?.['observed_at'];
      await new Promise((resolve) => setTimeout(resolve, 2 * TTL * 1000 + 500));
      assert.ok(basebackups(paul().dataDir).length > 0, 'still copying');
      const later = await member();
      assert.notEqual(later, null, `members/paul alive ${Math.round(performance.now() - copyingAt)} ms into the copy`);
      assert.notEqual(later?.['observed_at'], observed, 'rewritten meanwhile');
      assert.deepEqual(later?.['boot_copy'], copy);

      const t0 = performance.now();
      await assert.rejects(
        shell.run([`${bed.cluster.pgBinDir}/pg_ctl`, '-D', paul().dataDir, '-w', '-t', '60', 'status'], { timeoutMs: 600_000 }),
        (err: unknown) => err instanceof HandyRepError && err.code === 'CONTROL_CHANNEL' && err.message.includes(`pg_ctl refused (busy): busy: boot copy since ${copy?.since} (the agent's boot clones john onto paul`),
      );
      const answeredMs = performance.now() - t0;
      assert.ok(answeredMs < 10_000, `answered after ${Math.round(answeredMs)} ms, not at its ten-minute limit`);
      assert.match(first.output(), /command \S+ waits behind the agent's boot/);

      await first.stop('SIGKILL');
      const killedAt = performance.now();
      await waitUntil('members/paul expired', async () => (await member()) === null, (TTL + 3) * 1000, 100);
      assert.ok(performance.now() - killedAt <= (TTL + 3) * 1000);
      // Started again: the orphan copy killed, copied again (at full speed), streaming.
      second = start(settings);
      await waitUntil('paul streams from john', async () => (await bed.cluster.psql(john(), "SELECT count(*) FROM pg_stat_replication WHERE application_name = 'paul' AND state = 'streaming'").catch(() => '0')) === '1', 120_000, 250);
      const runningAgent = second;
      await waitUntil('the start logged', () => /started as a standby of john/.test(runningAgent.output()), 30_000, 100);
      assert.equal((await member())?.['boot_copy'] ?? null, null, 'the ordinary record once the boot is done');
    } catch (err) {
      throw new Error(`${(err as Error).message}\n--- first agent:\n${first.output().slice(-4000)}\n--- second agent:\n${second?.output().slice(-4000) ?? ''}`, { cause: err });
    }
  });
  it('the boot rewinds (the master\'s CHECKPOINT held): the record says boot_step rewind; a command answered busy in seconds', async () => {
    // paul, a stopped standby of john holding data: its next boot rewinds (pg_rewind, no copy).
    await Promise.all(bed.agents.splice(0).map((a) => a.stop('SIGTERM')));
    await paul().stop('fast');
    const pid = Number(await bed.cluster.psql(john(), "SELECT pid FROM pg_stat_activity WHERE backend_type = 'checkpointer'"));
    assert.ok(Number.isInteger(pid) && pid > 0, `checkpointer pid ${pid}`);
    process.kill(pid, 'SIGSTOP');
    heldCheckpointer = pid;
    const agent = start(settings);
    try {
      type Step = { step: string; since: string; source: string | null; reclone: boolean };
      const seen: { record: Record<string, unknown> | null } = { record: null };
      await waitUntil('members/paul says the boot rewinds', async () => ((seen.record = await member())?.['boot_step'] as Step | undefined)?.step === 'rewind', 60_000, 100);
      const record = seen.record;
      const step = record?.['boot_step'] as Step;
      assert.deepEqual([step.source, step.reclone, record?.['postgres'], record?.['boot_copy']], ['john', false, 'stopped', null], JSON.stringify(record));
      // Two TTLs into the held CHECKPOINT: a member key without renewals would have expired.
      await new Promise((resolve) => setTimeout(resolve, 2 * TTL * 1000 + 500));
      const later = await member();
      assert.notEqual(later, null, 'members/paul alive during the rewind');
      assert.deepEqual(later?.['boot_step'], step);

      const t0 = performance.now();
      await assert.rejects(
        shell.run([`${bed.cluster.pgBinDir}/pg_ctl`, '-D', paul().dataDir, '-w', '-t', '60', 'status'], { timeoutMs: 600_000 }),
        (err: unknown) => err instanceof HandyRepError && err.code === 'CONTROL_CHANNEL' && err.message.includes(`pg_ctl refused (busy): busy: boot rewind since ${step.since} (the agent's boot rewinds paul to follow john`),
      );
      const answeredMs = performance.now() - t0;
      assert.ok(answeredMs < 10_000, `answered after ${Math.round(answeredMs)} ms, not at its ten-minute limit`);
      assert.match(agent.output(), /command \S+ waits behind the agent's boot/);

      continueCheckpointer();
      await waitUntil('paul streams from john', async () => (await bed.cluster.psql(john(), "SELECT count(*) FROM pg_stat_replication WHERE application_name = 'paul' AND state = 'streaming'").catch(() => '0')) === '1', 120_000, 250);
      await waitUntil('the start logged', () => /started as a standby of john/.test(agent.output()), 30_000, 100);
      await waitUntil('the ordinary record once the boot is done', async () => ((await member())?.['boot_step'] ?? null) === null && (await member())?.['postgres'] === 'running', 10_000, 100);
    } catch (err) {
      throw new Error(`${(err as Error).message}\n--- agent:\n${agent.output().slice(-4000)}`, { cause: err });
    } finally {
      continueCheckpointer();
    }
  });
});
