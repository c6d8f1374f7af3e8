/**
 * The agent's copy is verified whole before it is used (issue 14, gap "the copy's end is checked by a
 * few files"), real etcd, PostgreSQL and agents: john is the recorded master, paul a new node (its
 * folder holds only its configuration files) whose agent clones john. paul's pg_bin_dir is a folder
 * of links to PostgreSQL's programs in which pg_basebackup is a test-only wrapper: the real one, then,
 * the first time only, one relation file of the finished copy truncated (the copy damaged after
 * pg_basebackup said it succeeded, before the verification). Expected: pg_verifybackup names the
 * file, the copy counts as failed (removed, never started), the next attempt copies again, and the
 * node comes up streaming from a whole copy. Then the same through a `clone` command (control_method
 * agent, the record written as a leader would): the damaged copy is the command's failure, with
 * pg_verifybackup's words in its result, the folder back to the configuration files only; the
 * command sent again copies a whole one.
 */
import assert from 'node:assert/strict';
import { chownSync, chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { TestCluster, TestNode } from '../fixtures/cluster.js';
import { startAgentBed, type AgentBed } from '../fixtures/agent-bed.js';
import { postgresUser } from '../fixtures/exec.js';
import { commandAsLeader, putTestLeader } from '../fixtures/leader-command.js';
import { putMasterRecord, startAgent, waitUntil, type RunningAgent } from '../fixtures/agents.js';

const PREFIX = '/handyrep/agentcloneverify/';
const KEEP = new Set(['postgresql.conf', 'pg_hba.conf']);

/** Test hook only: the real pg_basebackup, then (first run) one relation file of the copy cut to one page. */
function damagingBasebackup(realBin: string, state: string): string {
  return [
    '#!/bin/sh',
    `"${realBin}/pg_basebackup" "$@" || exit $?`,
    'd=; prev=',
    'for a in "$@"; do [ "$prev" = "-D" ] && d=$a; prev=$a; done',
    `echo run >> "${state}/runs"`,
    `if mkdir "${state}/damaged" 2>/dev/null; then`,
    '  f=$(find "$d/base" -type f -size +24k | sort | head -n 1)',
    '  truncate -s 8192 "$f"',
    `  echo "$f" > "${state}/damaged/file"`,
    'fi',
    '',
  ].join('\n');
}

describe('node agent: a damaged copy fails its verification and is copied again', { timeout: 300_000 }, () => {
  let bed: AgentBed;
  const cluster = (): TestCluster => bed.cluster;
  const john = (): TestNode => bed.cluster.nodes[0] as TestNode;
  const paul = (): TestNode => bed.cluster.nodes[1] as TestNode;
  let bin = '';
  let state = '';
  let agent: RunningAgent | null = null;
  const command = (id: string, request: Record<string, unknown>) => commandAsLeader(bed.client, PREFIX, 'paul', id, request, 180_000);

  before(async () => {
    bed = await startAgentBed(PREFIX, 2);
    await cluster().psql(john(), "CREATE TABLE filler AS SELECT g, repeat('x', 200) AS pad FROM generate_series(1, 2000) g");
    await putMasterRecord(bed.client, PREFIX, 'john');
    await paul().stop('fast');
    await cluster().psql(john(), "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = 'handyrep_paul'");
    for (const entry of readdirSync(paul().dataDir)) if (!KEEP.has(entry)) rmSync(join(paul().dataDir, entry), { recursive: true, force: true });
    const user = postgresUser();
    bin = join(cluster().root, 'bin-damaging');
    state = join(cluster().root, 'damage-state');
    mkdirSync(bin);
    mkdirSync(state);
    chownSync(state, user.uid, user.gid);
    for (const program of readdirSync(cluster().pgBinDir)) if (program !== 'pg_basebackup') symlinkSync(join(cluster().pgBinDir, program), join(bin, program));
    writeFileSync(join(bin, 'pg_basebackup'), damagingBasebackup(cluster().pgBinDir, state));
    chmodSync(join(bin, 'pg_basebackup'), 0o755);
    writeFileSync(paul().logFile, '');
    // A leader key (its create revision is the term the agents compare); no controller runs.
    await putTestLeader(bed.client, PREFIX);
  });

  after(async () => {
    await bed?.close();
  });

  it('pg_verifybackup finds the cut file: not started, copy removed, copied again, then streaming', async () => {
    const settings = { ...bed.settings, sections: { ...bed.settings.sections, handyrep: { store: 'etcd' }, server_defaults: { control_method: 'agent' } }, servers: { paul: { pg_bin_dir: bin } } };
    const started = startAgent(cluster(), paul(), settings);
    agent = started;
    bed.agents.push(started);
    const streams = async (): Promise<boolean> =>
      (await cluster().psql(john(), "SELECT count(*) FROM pg_stat_replication WHERE application_name = 'paul' AND state = 'streaming'").catch(() => '0')) === '1';
    await waitUntil('paul streams from john', streams, 180_000, 200).catch((err: Error) => {
      throw new Error(`${err.message}\n${started.output()}`);
    });
    await waitUntil('the start logged', () => started.output().includes('started as a standby of john'), 30_000, 100);
    const out = started.output();
    const damaged = readFileSync(join(state, 'damaged', 'file'), 'utf8').trim();
    const relative = damaged.slice(paul().dataDir.length + 1);
    // pg_verifybackup's own words, in the log.
    assert.match(out, /copy from john failed, partial copy removed: pg_basebackup from john finished; the copy failed verification \(pg_verifybackup exited 1\): /, out);
    assert.ok(out.includes(`"${relative}" has size 8192 on disk but size`), `pg_verifybackup names ${relative}:\n${out}`);
    assert.equal(readFileSync(join(state, 'runs'), 'utf8').trim().split('\n').length, 2, 'the copy was made twice');
    // Started once, after the second copy: the damaged one never ran.
    const failedAt = out.indexOf('failed verification');
    const startedAt = out.indexOf('started as a standby of john');
    assert.ok(failedAt >= 0 && failedAt < startedAt, 'the start comes after the failed verification');
    assert.match(out.slice(failedAt), /verified whole by pg_verifybackup against backup_manifest, WAL parsed/);
    assert.equal(readFileSync(paul().logFile, 'utf8').match(/starting PostgreSQL/g)?.length, 1, 'PostgreSQL started once on paul');
    assert.ok(statSync(damaged).size > 8192, 'the file is whole in the copy in use');
    assert.equal(existsSync(join(paul().dataDir, '..', '.handyrep-agent-paul.copying')), false, 'no copy marker left');
    assert.equal(await cluster().psql(paul(), 'SELECT count(*) FROM filler'), '2000');
  });

  it('a clone command whose copy fails verification: failed with pg_verifybackup\'s words, folder back to its configuration files; sent again, a whole copy', async () => {
    // Re-armed: the next pg_basebackup's copy is damaged again.
    rmSync(join(state, 'damaged'), { recursive: true, force: true });
    await paul().stop('fast');
    const request = { action: 'clone', source: 'john', upstream: 'john', old_data: 'delete', restore_command: false, expect: { pgdata: paul().dataDir } };
    // A controller that means another data folder is refused before anything is copied.
    const elsewhere = await command('00000000000000000-verify', { ...request, expect: { pgdata: `${paul().dataDir}-elsewhere` } });
    assert.match(JSON.stringify(elsewhere.result.refused), /configuration differs: the controller expects pgdata .*-elsewhere/);
    assert.equal(readFileSync(join(state, 'runs'), 'utf8').trim().split('\n').length, 2, 'nothing copied');
    const failed = await command('00000000000000001-verify', request);
    assert.equal(failed.result.exit_code, 1, JSON.stringify(failed.result));
    assert.match(failed.result.stderr, /copy from john failed, partial copy removed: pg_basebackup from john finished; the copy failed verification \(pg_verifybackup exited 1\): .*has size 8192 on disk but size/);
    const left = readdirSync(paul().dataDir);
    assert.ok(left.every((entry) => /^(postgresql(\.auto)?\.conf|pg_hba\.conf|pg_ident\.conf)$/.test(entry)) && left.includes('postgresql.conf'), `only the configuration files left: ${left.join(', ')}`);
    assert.equal(existsSync(join(paul().dataDir, '..', '.handyrep-agent-paul.copying')), false, 'no copy marker left');
    assert.match(agent?.output() ?? '', /failed verification \(pg_verifybackup exited 1\)/, 'in the agent\'s log too');
    const whole = await command('00000000000000002-verify', request);
    assert.equal(whole.result.exit_code, 0, JSON.stringify(whole.result));
    assert.match(whole.result.stdout, /verified whole by pg_verifybackup against backup_manifest, WAL parsed/);
    assert.equal(readFileSync(join(state, 'runs'), 'utf8').trim().split('\n').length, 4, 'two more copies');
  });
});
