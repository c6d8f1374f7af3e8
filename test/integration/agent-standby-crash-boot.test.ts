/**
 * A standby whose whole instance died (its postmaster and its agent SIGKILLed, as on a host crash),
 * under write load on the master and with an idle master, then its agent started again: the
 * agent's boot makes it a standby of the recorded master, and it must stream and KEEP streaming,
 * its replay passing what the master wrote after the restart.
 *
 * Before standby-clean-stop.ts, pg_rewind's single-user crash recovery (run as a primary, since
 * single-user mode cannot be a standby) wrote a shutdown checkpoint into the standby's WAL that the
 * master never had; pg_rewind said "no rewind required" (same timeline), and the standby read the
 * master's bytes where its own record should continue: "invalid record length … wanted 24, got N" /
 * "incorrect prev-link" / "invalid resource manager ID", the WAL receiver stopped every
 * wal_retrieve_retry_interval, and it never streamed again (idle master: it streamed first, its replay
 * position ahead of the master's WAL, until the master's next write).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import type { TestCluster, TestNode } from '../fixtures/cluster.js';
import { startAgentBed, type AgentBed } from '../fixtures/agent-bed.js';
import { isAlive } from '../fixtures/proc.js';
import { putMasterRecord, startAgent, waitUntil, type RunningAgent } from '../fixtures/agents.js';

const PREFIX = '/handyrep/standbycrash/';
/** What the standby's log must not say after its restart: its WAL and the master's disagree. */
const DIVERGED = /incorrect prev-link|invalid resource manager ID|invalid record length at [0-9A-F/]+: wanted 24, got [1-9]|terminating walreceiver process due to administrator command/;

describe('node agent: a standby killed with its agent, booted again', { timeout: 300_000 }, () => {
  let bed: AgentBed;
  const cluster = (): TestCluster => bed.cluster;
  const agents = (): RunningAgent[] => bed.agents;
  const john = (): TestNode => bed.cluster.nodes[0] as TestNode;
  const paul = (): TestNode => bed.cluster.nodes[1] as TestNode;

  before(async () => {
    bed = await startAgentBed(PREFIX, 2);
  });
  after(async () => {
    await bed?.close();
  });

  const streaming = async (): Promise<boolean> =>
    (await cluster().psql(john(), "SELECT count(*) FROM pg_stat_replication WHERE application_name = 'paul' AND state = 'streaming'").catch(() => '0')) === '1';
  const replayedPast = async (lsn: string): Promise<boolean> => (await cluster().psql(paul(), `SELECT pg_last_wal_replay_lsn() >= '${lsn}'::pg_lsn`)) === 't';

  /**
   * paul's whole instance dies (the agent first, so nobody sees the crash; then the postmaster) and
   * its agent starts again; returns when paul streams and the agent logged its start, with the
   * length of paul's log before the restart.
   */
  async function killAndBootPaul(): Promise<number> {
    const postmaster = paul().postmasterPid();
    assert.ok(postmaster !== null, 'paul runs');
    await agents().at(-1)?.stop('SIGKILL');
    process.kill(postmaster, 'SIGKILL');
    await waitUntil("paul's postmaster gone", () => !isAlive(postmaster), 10_000);
    const logFrom = readFileSync(paul().logFile, 'utf8').length;
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const agent = startAgent(cluster(), paul(), bed.settings);
    agents().push(agent);
    await waitUntil('paul streams from john again', streaming, 60_000, 200);
    await waitUntil("the agent's start logged", () => agent.output().includes('boot: started as a standby of john'), 30_000);
    assert.match(agent.output(), /paul was a crashed standby \(in archive recovery\): recovered in standby mode, stopped \(shut down in recovery\)/);
    return logFrom;
  }

  /** Longer than wal_retrieve_retry_interval (5 s): the failure came back at each retry. */
  async function assertKeepsStreaming(ms: number): Promise<void> {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline) {
      assert.equal(await streaming(), true, 'paul keeps streaming');
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }

  it('under write load: it streams again and keeps streaming past what the master wrote since; its log shows no WAL disagreement', async () => {
    await putMasterRecord(bed.client, PREFIX, 'john');
    agents().push(startAgent(cluster(), john(), bed.settings), startAgent(cluster(), paul(), bed.settings));
    await cluster().waitStreaming(john(), [paul()], 60_000);
    await waitUntil("paul's agent adopted its running standby", () => agents()[1]?.output().includes('PostgreSQL runs read-only') === true, 60_000);
    await cluster().psql(john(), 'CREATE TABLE load (id bigserial, v text)');

    // Bounded write load on john for the whole test.
    const writer = new pg.Client({ host: john().socketDir, port: john().port, user: 'postgres', database: 'postgres' });
    await writer.connect();
    let writing = true;
    const load = (async () => {
      const end = Date.now() + 120_000;
      while (writing && Date.now() < end) {
        await writer.query("INSERT INTO load (v) SELECT repeat('x', 200) FROM generate_series(1, 20)");
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    })();
    try {
      await new Promise((resolve) => setTimeout(resolve, 2000));
      const logFrom = await killAndBootPaul();
      const masterAtRestart = await cluster().psql(john(), 'SELECT pg_current_wal_lsn()');
      await assertKeepsStreaming(8000);
      await waitUntil(`paul replayed past ${masterAtRestart}`, () => replayedPast(masterAtRestart), 20_000);
      const log = readFileSync(paul().logFile, 'utf8').slice(logFrom);
      assert.doesNotMatch(log, DIVERGED, `paul's log since the restart:\n${log}`);
    } finally {
      writing = false;
      await load;
      await writer.end();
    }
    // Nothing lost on the way: paul holds john's rows once it replayed john's last position.
    const last = await cluster().psql(john(), 'SELECT pg_current_wal_lsn()');
    await waitUntil('paul caught up', () => replayedPast(last), 30_000);
    assert.equal(await cluster().psql(paul(), 'SELECT count(*) FROM load'), await cluster().psql(john(), 'SELECT count(*) FROM load'));
  });

  it("idle master: never ahead of the master after the boot, and the master's next writes do not stop its WAL receiver", async () => {
    // Before the fix: it streamed, its replay position ahead of the master's WAL (the checkpoint the
    // master never wrote), and the master's next write ended its WAL receiver for good.
    await cluster().psql(john(), 'CHECKPOINT');
    const logFrom = await killAndBootPaul();
    const masterAtBoot = await cluster().psql(john(), 'SELECT pg_current_wal_lsn()');
    assert.equal(await cluster().psql(paul(), `SELECT pg_last_wal_replay_lsn() <= '${masterAtBoot}'::pg_lsn`), 't', `paul's replay not ahead of john's ${masterAtBoot}`);
    await cluster().psql(john(), "INSERT INTO load (v) SELECT repeat('y', 200) FROM generate_series(1, 100)");
    await assertKeepsStreaming(7000);
    const last = await cluster().psql(john(), 'SELECT pg_current_wal_lsn()');
    await waitUntil(`paul replayed past ${last}`, () => replayedPast(last), 20_000);
    const log = readFileSync(paul().logFile, 'utf8').slice(logFrom);
    assert.doesNotMatch(log, DIVERGED, `paul's log since the restart:\n${log}`);
  });
});
