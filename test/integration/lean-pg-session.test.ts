/**
 * The lean PostgreSQL session (src/nodes/lean-pg/) against a real PostgreSQL 15: the unix socket
 * as the agent's facts use it, SCRAM, md5 and cleartext over TCP as pg_hba asks, a password
 * method the configuration does not allow refused before anything is sent, an SQL error, the
 * server ending the session, a frozen backend, the startup-only check, and the agent's probe of a
 * master whose password is wrong (one failed login in the server's log, not one per round).
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { LocalPostgres } from '../../src/agent/local-postgres.js';
import { MasterProbe } from '../../src/agent/master-probe.js';
import { configSchema } from '../../src/config/schema.js';
import { answersStartup, firstRow, LeanPgError, LeanPgSession, type LeanPgTarget } from '../../src/nodes/lean-pg/session.js';
import { PG_BIN_DIR, startCluster, type TestCluster, type TestNode } from '../fixtures/cluster.js';

const FAILED_LOGIN = /password authentication failed for user "handyrep"/g;

describe('lean PostgreSQL session', () => {
  let cluster: TestCluster;
  let node: TestNode;
  let tcp: LeanPgTarget;

  before(async () => {
    cluster = await startCluster({ nodes: 1, ssh: false });
    node = cluster.master;
    tcp = { host: node.host, port: node.port, user: 'handyrep', database: 'postgres', applicationName: 'lean-test', password: cluster.passwords.handyrep_db_pass, allowedPasswordMethods: ['scram-sha-256'], connectTimeoutMs: 3000 };
    // Roles whose passwords pg_hba asks for by md5 and in cleartext (first lines win).
    await cluster.psql(node, "SET password_encryption = 'md5'; CREATE ROLE mdfive LOGIN PASSWORD 'md5-secret'; RESET password_encryption; CREATE ROLE clear LOGIN PASSWORD 'clear-secret';");
    const hba = join(node.dataDir, 'pg_hba.conf');
    writeFileSync(hba, `host all mdfive 127.0.0.0/8 md5\nhost all clear 127.0.0.0/8 password\n${readFileSync(hba, 'utf8')}`);
    await cluster.psql(node, 'SELECT pg_reload_conf()');
  });
  after(async () => {
    await cluster?.stop();
  });

  const failedLogins = (): number => (readFileSync(node.logFile, 'utf8').match(FAILED_LOGIN) ?? []).length;

  it('over the unix socket (trust): typed text values and NULL; an SQL error leaves the session usable', async () => {
    const session = await LeanPgSession.connect({ host: node.socketDir, port: node.port, user: 'postgres', database: 'postgres', applicationName: 'lean-test', allowedPasswordMethods: [], connectTimeoutMs: 3000 });
    try {
      const result = await session.query("SELECT pg_is_in_recovery() AS r, 42::int AS i, NULL::text AS n, 0.5::float8 AS f, 'a''b' AS s", 2000);
      assert.deepEqual(result.columns, ['r', 'i', 'n', 'f', 's']);
      assert.deepEqual(firstRow(result), { r: 'f', i: '42', n: null, f: '0.5', s: "a'b" });
      await assert.rejects(session.query('SELECT 1/0', 2000), (err: unknown) => err instanceof LeanPgError && err.kind === 'server' && err.code === '22012');
      assert.deepEqual((await session.query('SELECT 2 AS two', 2000)).rows, [['2']]);
      // Several rows, and queries queued behind each other.
      const [a, b] = await Promise.all([session.query('SELECT generate_series(1, 3) AS g', 2000), session.query('SELECT 7 AS seven', 2000)]);
      assert.deepEqual(a.rows, [['1'], ['2'], ['3']]);
      assert.deepEqual(b.rows, [['7']]);
    } finally {
      session.end();
    }
  });

  it('SCRAM-SHA-256 over TCP logs in; a wrong password is the server\'s 28P01', async () => {
    const session = await LeanPgSession.connect(tcp);
    assert.deepEqual((await session.query('SELECT current_user AS u', 2000)).rows, [['handyrep']]);
    session.end();
    await assert.rejects(LeanPgSession.connect({ ...tcp, password: 'wrong' }), (err: unknown) => err instanceof LeanPgError && err.kind === 'server' && err.code === '28P01');
  });

  it('a password method the configuration does not allow is refused, and nothing is sent', async () => {
    const before = failedLogins();
    await assert.rejects(LeanPgSession.connect({ ...tcp, password: 'wrong', allowedPasswordMethods: ['md5'] }), (err: unknown) => err instanceof LeanPgError && err.kind === 'auth_refused' && /SCRAM-SHA-256; refused, no password sent/.test(err.message));
    await assert.rejects(LeanPgSession.connect({ ...tcp, user: 'mdfive', password: 'md5-secret' }), (err: unknown) => err instanceof LeanPgError && err.kind === 'auth_refused' && /an MD5 password hash; refused/.test(err.message));
    await assert.rejects(LeanPgSession.connect({ ...tcp, user: 'clear', password: 'clear-secret' }), (err: unknown) => err instanceof LeanPgError && err.kind === 'auth_refused' && /a cleartext password; refused/.test(err.message));
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(failedLogins(), before, 'no password was tried');
  });

  it('md5 and cleartext log in when listed', async () => {
    for (const [user, password, method] of [['mdfive', 'md5-secret', 'md5'], ['clear', 'clear-secret', 'password']] as const) {
      const session = await LeanPgSession.connect({ ...tcp, user, password, allowedPasswordMethods: [method] });
      assert.deepEqual((await session.query('SELECT current_user AS u', 2000)).rows, [[user]]);
      session.end();
    }
    await assert.rejects(LeanPgSession.connect({ ...tcp, user: 'mdfive', password: 'nope', allowedPasswordMethods: ['md5'] }), (err: unknown) => err instanceof LeanPgError && err.code === '28P01');
  });

  it('the server ending the session is heard (onLost); end() here is not', async () => {
    const session = await LeanPgSession.connect(tcp);
    let lost = 0;
    session.onLost(() => lost++);
    const pid = firstRow(await session.query('SELECT pg_backend_pid() AS pid', 2000))?.['pid'];
    await cluster.psql(node, `SELECT pg_terminate_backend(${Number(pid)})`);
    const deadline = Date.now() + 3000;
    while (lost === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(lost, 1);
    assert.ok(session.ended);
    await assert.rejects(session.query('SELECT 1', 2000), (err: unknown) => err instanceof LeanPgError && err.kind === 'closed');
    const other = await LeanPgSession.connect(tcp);
    let otherLost = 0;
    other.onLost(() => otherLost++);
    other.end();
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(otherLost, 0);
  });

  it('a frozen backend: the query times out, and the session is over', async () => {
    const session = await LeanPgSession.connect(tcp);
    const pid = Number(firstRow(await session.query('SELECT pg_backend_pid() AS pid', 2000))?.['pid']);
    process.kill(pid, 'SIGSTOP');
    try {
      const started = performance.now();
      await assert.rejects(session.query('SELECT 1', 400), (err: unknown) => err instanceof LeanPgError && err.kind === 'timeout');
      assert.ok(performance.now() - started < 2000);
      assert.ok(session.ended);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
  });

  it('the startup-only check: PostgreSQL answers without a login (nothing in its log); a closed port does not', async () => {
    const before = failedLogins();
    assert.equal(await answersStartup({ ...tcp }), true);
    const refused = await answersStartup({ ...tcp, port: 1 });
    assert.ok(refused instanceof LeanPgError && refused.kind === 'network' && refused.code === 'ECONNREFUSED');
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(failedLogins(), before);
  });

  it("the agent's probe with a wrong password: seen each round, one failed login in the server's log, one warning", async () => {
    const config = (password: string) => configSchema.parse(cluster.config({ passwords: { handyrep_db_pass: password } }));
    const lines: string[] = [];
    const before = failedLogins();
    const probe = new MasterProbe(config('wrong'), 2000, (line) => lines.push(line));
    try {
      const answers = [];
      for (let round = 0; round < 4; round++) answers.push(await probe.probe(node.name));
      assert.deepEqual(answers.map((a) => a.sees), [true, true, true, true]);
      assert.equal(answers[0]?.detail, 'answers (SQLSTATE 28P01)');
      assert.equal(answers[3]?.detail, 'answers (login failed before)');
      await new Promise((resolve) => setTimeout(resolve, 200));
      assert.equal(failedLogins() - before, 1, 'one failed login, not one per round');
      assert.equal(lines.length, 1);
      assert.match(lines[0] ?? '', /cannot log in as handyrep: .*password authentication failed.*SQLSTATE 28P01.*passwords\.handyrep_db_pass/);
    } finally {
      probe.close();
    }
    const right = new MasterProbe(config(cluster.passwords.handyrep_db_pass), 2000);
    try {
      assert.deepEqual(await right.probe(node.name), { sees: true, detail: 'answers SELECT 1' });
      assert.deepEqual(await right.probe(node.name), { sees: true, detail: 'answers SELECT 1' });
    } finally {
      right.close();
    }
    await node.stop('fast');
    try {
      const down = new MasterProbe(config(cluster.passwords.handyrep_db_pass), 2000);
      assert.deepEqual(await down.probe(node.name), { sees: false, detail: 'connection refused' });
    } finally {
      await node.start();
    }
  });

  it("the probe's backend terminated during its query (a FATAL, then the close): the master answered", async () => {
    const session = await LeanPgSession.connect(tcp);
    const pid = Number(firstRow(await session.query('SELECT pg_backend_pid() AS pid', 2000))?.['pid']);
    const sleeping = session.query('SELECT pg_sleep(5)', 8000);
    await new Promise((resolve) => setTimeout(resolve, 200));
    await cluster.psql(node, `SELECT pg_terminate_backend(${pid})`);
    await assert.rejects(sleeping, (err: unknown) => err instanceof LeanPgError && err.kind === 'server' && err.code === '57P01');
  });

  const local = (lines: string[]): LocalPostgres =>
    new LocalPostgres({ pgdata: node.dataDir, pgctlDir: node.dataDir, pgBinDir: PG_BIN_DIR, port: node.port, socketDir: node.socketDir, logFile: null }, 2000, () => undefined, (line) => lines.push(line));

  it("the agent's facts over the unix socket (trust): read through the lean session", async () => {
    const lines: string[] = [];
    const pg = local(lines);
    try {
      const { observation, facts } = await pg.observe();
      assert.equal(observation.pidAlive, true);
      assert.equal(facts?.in_recovery, false);
      assert.equal(facts?.timeline, 1);
      assert.match(facts?.wal_position ?? '', /^[0-9A-F]+\/[0-9A-F]+$/);
      assert.match(facts?.server_version ?? '', /^15\./);
      const position = await pg.promotedPosition();
      assert.equal(position.timeline, 1);
      assert.match(position.lsn ?? '', /^[0-9A-F]+\/[0-9A-F]+$/);
      assert.deepEqual(lines, []);
    } finally {
      pg.close();
    }
  });

  // Last: it makes the socket ask user postgres for a password.
  it('a socket that asks for a password: the facts session says so once and uses node-postgres (PGPASSWORD)', async () => {
    await cluster.psql(node, "ALTER ROLE postgres PASSWORD 'socket-secret'");
    const hba = join(node.dataDir, 'pg_hba.conf');
    process.env['PGPASSWORD'] = 'socket-secret';
    writeFileSync(hba, `local all postgres scram-sha-256\n${readFileSync(hba, 'utf8')}`);
    await cluster.psql(node, 'SELECT pg_reload_conf()');
    const lines: string[] = [];
    const pg = local(lines);
    try {
      const first = await pg.observe();
      assert.equal(first.facts?.in_recovery, false, 'facts read although the socket asks for a password');
      assert.equal(lines.length, 1);
      assert.match(lines[0] ?? '', /asks for a password on its unix socket.*node-postgres.*PGPASSWORD/);
      pg.close();
      assert.equal((await pg.observe()).facts?.in_recovery, false);
      assert.equal(lines.length, 1, 'said once');
    } finally {
      pg.close();
      delete process.env['PGPASSWORD'];
    }
  });
});
