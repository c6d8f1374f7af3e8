/**
 * PgSqlClient against a real PostgreSQL 15 (test/fixtures/cluster.ts, one node on 127.0.2.21):
 * sessions and parameters, timeouts enforced by server and client, classified connect failures,
 * and the password kept out of every message.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { HandyRepError } from '../../src/model/errors.js';
import type { ConnectFailureKind, SqlTarget } from '../../src/nodes/ports.js';
import { PgSqlClient, SqlConnectError } from '../../src/nodes/sql-client.js';
import { startCluster, type TestCluster, type TestNode } from '../fixtures/cluster.js';
import { freeze, thaw } from '../fixtures/faults.js';
import { dropHost, undropHost } from '../fixtures/iptables.js';

/** An address nothing answers on: iptables drops it. */
const BLACKHOLE = '127.0.2.99';

function isConnectError(kind: ConnectFailureKind, secret?: string): (err: unknown) => boolean {
  return (err: unknown) => {
    assert.ok(err instanceof SqlConnectError, `not an SqlConnectError: ${String(err)}`);
    assert.equal(err.code, 'SQL');
    assert.equal(err.kind, kind, err.message);
    if (secret !== undefined) {
      assert.ok(!err.message.includes(secret), `password in message: ${err.message}`);
      assert.ok(!String(err.stack).includes(secret), 'password in stack');
      assert.ok(!JSON.stringify(err).includes(secret), 'password in serialised error');
    }
    return true;
  };
}

describe('PgSqlClient (real PostgreSQL)', () => {
  let cluster: TestCluster;
  let node: TestNode;
  const client = new PgSqlClient();
  let target: SqlTarget;

  before(async () => {
    cluster = await startCluster({ nodes: 1, subnet: '127.0.2', firstHost: 21, ssh: false });
    node = cluster.master;
    target = {
      host: node.host,
      port: node.port,
      database: 'postgres',
      user: 'handyrep',
      password: cluster.passwords.handyrep_db_pass,
      connectTimeoutMs: 2000,
      statementTimeoutMs: 5000,
    };
  });

  after(async () => {
    undropHost(BLACKHOLE);
    if (node) thaw(node);
    await cluster?.stop();
  });

  it('runs queries with parameters and sets the session options', async () => {
    const session = await client.connect({ ...target, statementTimeoutMs: 1500 });
    try {
      const rows = await session.query<{ b: string; t: string; f: boolean; n: null; i: number }>(
        'SELECT $1::bigint AS b, $2::text AS t, $3::bool AS f, $4::int AS n, 42 AS i',
        [9007199254740993n, "it's; -- not sql", false, null],
      );
      assert.deepEqual(rows, [{ b: '9007199254740993', t: "it's; -- not sql", f: false, n: null, i: 42 }]);
      const [settings] = await session.query<{ app: string; st: string }>(
        "SELECT current_setting('application_name') AS app, current_setting('statement_timeout') AS st",
      );
      assert.deepEqual(settings, { app: 'handyrep', st: '1500ms' });
    } finally {
      await session.end();
      await session.end();
    }
    const named = await client.connect({ ...target, applicationName: 'handyrep-poll' });
    const [row] = await named.query<{ app: string }>("SELECT current_setting('application_name') AS app");
    assert.equal(row?.app, 'handyrep-poll');
    await named.end();
  });

  it('reports query errors as SQL with the SQLSTATE, and refuses queries after end()', async () => {
    const session = await client.connect(target);
    await assert.rejects(
      session.query('SELECT * FROM no_such_table'),
      (err: unknown) => err instanceof HandyRepError && err.code === 'SQL' && /SQLSTATE 42P01/.test(err.message),
    );
    // The session survives a failed statement.
    assert.deepEqual(await session.query('SELECT 1 AS one'), [{ one: 1 }]);
    await session.end();
    await assert.rejects(session.query('SELECT 1'), (err: unknown) => err instanceof HandyRepError && err.code === 'SQL');
  });

  it('fires statement_timeout on a long query', async () => {
    const session = await client.connect({ ...target, statementTimeoutMs: 300 });
    try {
      const started = Date.now();
      await assert.rejects(
        session.query('SELECT pg_sleep(5)'),
        (err: unknown) => err instanceof HandyRepError && err.code === 'SQL' && /SQLSTATE 57014/.test(err.message),
      );
      assert.ok(Date.now() - started < 1500, `took ${Date.now() - started} ms`);
    } finally {
      await session.end();
    }
  });

  it('survives the server killing the session (no crash), then reports it on the next query', async () => {
    const victim = await client.connect(target);
    const [me] = await victim.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    const killer = await client.connect(target);
    await killer.query('SELECT pg_terminate_backend($1)', [me?.pid ?? 0]);
    await killer.end();
    await new Promise((resolve) => setTimeout(resolve, 200));
    await assert.rejects(victim.query('SELECT 1'), (err: unknown) => err instanceof HandyRepError && err.code === 'SQL');
    await victim.end();
  });

  it('classifies a wrong password as auth without revealing it', async () => {
    const secret = 'Wr0ng-Pa55word-xyzzy';
    await assert.rejects(client.connect({ ...target, password: secret }), isConnectError('auth', secret));
    await assert.rejects(client.connect({ ...target, password: secret }), /SQLSTATE 28P01/);
    await assert.rejects(
      client.connect({ ...target, database: 'no_such_db' }),
      isConnectError('auth', cluster.passwords.handyrep_db_pass),
    );
  });

  it('classifies an address that drops packets as a timeout, within the connect timeout', async () => {
    dropHost(BLACKHOLE);
    try {
      const started = Date.now();
      await assert.rejects(client.connect({ ...target, host: BLACKHOLE, connectTimeoutMs: 1000 }), isConnectError('timeout'));
      const elapsed = Date.now() - started;
      assert.ok(elapsed >= 950 && elapsed <= 1200, `took ${elapsed} ms`);
    } finally {
      undropHost(BLACKHOLE);
    }
  });

  it('bounds connects and queries on a frozen server with its own timers', async () => {
    const session = await client.connect({ ...target, connectTimeoutMs: 500, statementTimeoutMs: 300 });
    freeze(node);
    try {
      // The kernel still accepts the TCP connection; only the startup never gets an answer.
      let started = Date.now();
      await assert.rejects(client.connect({ ...target, connectTimeoutMs: 700 }), isConnectError('timeout'));
      let elapsed = Date.now() - started;
      assert.ok(elapsed <= 900, `connect took ${elapsed} ms`);
      // statement_timeout cannot fire in a stopped server: the client gives up after it plus a grace.
      started = Date.now();
      await assert.rejects(
        session.query('SELECT 1'),
        (err: unknown) => err instanceof HandyRepError && err.code === 'SQL' && /no answer within 1300 ms/.test(err.message),
      );
      elapsed = Date.now() - started;
      assert.ok(elapsed >= 1250 && elapsed < 1800, `query took ${elapsed} ms`);
      started = Date.now();
      await session.end();
      assert.ok(Date.now() - started < 1500, 'end() hung on a frozen server');
    } finally {
      thaw(node);
    }
    const again = await client.connect(target);
    assert.deepEqual(await again.query('SELECT 1 AS one'), [{ one: 1 }]);
    await again.end();
  });

  it('classifies a stopped server as refused', async () => {
    await node.stop('fast');
    const started = Date.now();
    await assert.rejects(client.connect(target), isConnectError('refused'));
    assert.ok(Date.now() - started < 500, `took ${Date.now() - started} ms`);
  });
});
