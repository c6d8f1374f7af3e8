/**
 * HandyRep's own PostgreSQL connections against a real server (issue 11): a server asking for a
 * cleartext password is refused before the password is sent (unless configured), and TLS follows
 * sslmode: verify-full refuses a self-signed certificate issued for another host, accepts one
 * issued for the server's address; prefer uses TLS when offered and falls back when not.
 */
import assert from 'node:assert/strict';
import { chownSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { SqlTarget } from '../../src/nodes/ports.js';
import type { SqlTls } from '../../src/nodes/pg-tls.js';
import { PgSqlClient, SqlConnectError } from '../../src/nodes/sql-client.js';
import { startCluster, type TestCluster, type TestNode } from '../fixtures/cluster.js';
import { postgresUser, runOk } from '../fixtures/exec.js';

let cluster: TestCluster;
let node: TestNode;
let target: SqlTarget;

const TLS = (mode: SqlTls['mode'], rootcert: string | null = null): SqlTls => ({ mode, rootcert, cert: null, key: null });

/** Whether the session runs over TLS (pg_stat_ssl), through a fresh client. */
async function sessionUsesTls(t: SqlTarget): Promise<boolean> {
  const session = await new PgSqlClient().connect(t);
  try {
    const rows = await session.query<{ ssl: boolean }>('SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()');
    return rows[0]?.ssl === true;
  } finally {
    await session.end();
  }
}

/** A self-signed certificate (its own CA) for `san`, installed as the server's; returns its path. */
async function serverCertificate(name: string, san: string): Promise<string> {
  const dir = join(node.dataDir, '..');
  const crt = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  await runOk('/usr/bin/openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-keyout', key, '-out', crt, '-subj', `/CN=${name}`, '-addext', `subjectAltName=${san}`, '-addext', 'basicConstraints=critical,CA:TRUE']);
  const user = postgresUser();
  for (const f of [crt, key]) chownSync(f, user.uid, user.gid);
  await cluster.psql(node, `ALTER SYSTEM SET ssl_cert_file = '${crt}'`);
  await cluster.psql(node, `ALTER SYSTEM SET ssl_key_file = '${key}'`);
  await cluster.psql(node, 'ALTER SYSTEM SET ssl = on');
  await cluster.psql(node, 'SELECT pg_reload_conf()');
  return crt;
}

function refused(pattern: RegExp): (err: unknown) => boolean {
  return (err: unknown) => {
    assert.ok(err instanceof SqlConnectError, String(err));
    assert.match(err.message, pattern);
    assert.ok(!err.message.includes(cluster.passwords.handyrep_db_pass), 'no password in the message');
    return true;
  };
}

before(async () => {
  cluster = await startCluster({ nodes: 1, ssh: false });
  node = cluster.master;
  target = {
    host: node.host,
    port: node.port,
    database: 'postgres',
    user: 'handyrep',
    password: cluster.passwords.handyrep_db_pass,
    connectTimeoutMs: 3000,
    statementTimeoutMs: 5000,
  };
});

after(async () => {
  await cluster?.stop();
});

describe('password methods', () => {
  const hba = (): string => join(node.dataDir, 'pg_hba.conf');
  let original = '';

  before(async () => {
    original = readFileSync(hba(), 'utf8');
    writeFileSync(hba(), `host all handyrep 127.0.0.0/8 password\n${original}`);
    await cluster.psql(node, 'SELECT pg_reload_conf()');
  });

  after(async () => {
    writeFileSync(hba(), original);
    await cluster.psql(node, 'SELECT pg_reload_conf()');
  });

  it('pg_hba "password" (cleartext): refused by default with an error naming the method and the setting', async () => {
    await assert.rejects(
      new PgSqlClient().connect({ ...target, tls: TLS('disable') }),
      (err: unknown) => {
        refused(/asked for a cleartext password \(pg_hba method "password"\); refused, no password sent: handyrep\.allowed_password_methods is \[scram-sha-256\]/)(err);
        assert.equal((err as SqlConnectError).kind, 'auth');
        return true;
      },
    );
  });

  it('the same server is accepted once "password" is allowed explicitly (the refusal was the policy)', async () => {
    assert.equal(await sessionUsesTls({ ...target, tls: TLS('disable'), allowedPasswordMethods: ['scram-sha-256', 'password'] }), false);
  });
});

describe('TLS', () => {
  it('prefer on a server without TLS: plain text, as libpq does', async () => {
    assert.equal(await sessionUsesTls({ ...target, tls: TLS('prefer') }), false);
  });

  it('require on a server without TLS: refused', async () => {
    await assert.rejects(new PgSqlClient().connect({ ...target, tls: TLS('require') }), refused(/does not support SSL/));
  });

  it('a self-signed certificate for another host: verify-full refuses it, verify-ca and prefer accept it', async () => {
    const crt = await serverCertificate('wronghost.example', 'DNS:wronghost.example');
    await assert.rejects(new PgSqlClient().connect({ ...target, tls: TLS('verify-full', crt) }), refused(/IP: 127\.\d+\.\d+\.\d+ is not in the cert's list|does not match certificate's altnames/));
    assert.equal(await sessionUsesTls({ ...target, tls: TLS('verify-ca', crt) }), true, 'the chain is fine: only the name is wrong');
    assert.equal(await sessionUsesTls({ ...target, tls: TLS('prefer') }), true, 'prefer uses TLS when offered');
    await assert.rejects(new PgSqlClient().connect({ ...target, tls: TLS('verify-full') }), refused(/self.signed certificate/), 'without the CA: not trusted');
  });

  it('a certificate issued for the server\'s address: verify-full accepts it', async () => {
    const crt = await serverCertificate('node', `IP:${node.host}`);
    assert.equal(await sessionUsesTls({ ...target, tls: TLS('verify-full', crt) }), true);
  });

  it('an unreadable sslrootcert is a clear error naming the setting', async () => {
    await assert.rejects(new PgSqlClient().connect({ ...target, tls: TLS('verify-full', '/nonexistent/ca.crt') }), refused(/cannot read sslrootcert \/nonexistent\/ca\.crt/));
  });
});
