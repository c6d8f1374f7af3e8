/**
 * The lean session's protocol edges that a real PostgreSQL does not produce on demand, against a
 * scripted server on a unix socket: a SCRAM exchange the server cuts short, "ready" before any
 * authentication, a FATAL right behind the startup's ReadyForQuery, a FATAL followed by the
 * close during a query (its SQLSTATE is the answer, not the close), and a password request
 * followed by silence or a close (a failure after the server answered: the agent's probe sees it). What real PostgreSQL does is
 * tested in test/integration/lean-pg-session.test.ts.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { MasterProbe } from '../../src/agent/master-probe.js';
import { parseConfig } from '../../src/config/load.js';
import { LeanPgError, LeanPgSession } from '../../src/nodes/lean-pg/session.js';
import { backend, int32 } from '../fixtures/pg-backend-messages.js';

const AUTH_OK = backend('R', int32(0));
const READY = backend('Z', Buffer.from('I'));
const SASL = backend('R', Buffer.concat([int32(10), Buffer.from('SCRAM-SHA-256\0\0')]));
const fatal = (code: string): Buffer => backend('E', Buffer.from(`SFATAL\0C${code}\0Mterminating connection\0\0`));

const dir = mkdtempSync(join(tmpdir(), 'lean-pg-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let port = 6000;

/** A server that runs `script` for each client: it is called with each chunk the client sends (the first is the startup). */
async function scripted(script: (socket: Socket, chunk: Buffer, n: number) => void): Promise<{ server: Server; port: number }> {
  const p = port++;
  const server = createServer((socket) => {
    let n = 0;
    socket.on('data', (chunk) => script(socket, chunk, n++));
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(join(dir, `.s.PGSQL.${p}`), resolve));
  return { server, port: p };
}

const target = (p: number, password?: string) => ({ host: dir, port: p, user: 'u', database: 'd', applicationName: 't', allowedPasswordMethods: ['scram-sha-256' as const], connectTimeoutMs: 2000, ...(password === undefined ? {} : { password }) });

describe('lean-pg session: protocol edges (scripted server)', () => {
  it('trust: ok, ready → connected; a query answered', async () => {
    const { server, port: p } = await scripted((socket, _chunk, n) => {
      if (n === 0) socket.write(Buffer.concat([AUTH_OK, READY]));
      else socket.write(Buffer.concat([backend('T', Buffer.concat([Buffer.from([0, 1]), Buffer.from('x\0'), Buffer.alloc(18)])), backend('D', Buffer.concat([Buffer.from([0, 1]), int32(1), Buffer.from('7')])), backend('C', Buffer.from('SELECT 1\0')), READY]));
    });
    try {
      const session = await LeanPgSession.connect(target(p));
      assert.deepEqual((await session.query('SELECT 7 AS x', 1000)).rows, [['7']]);
      session.end();
    } finally {
      server.close();
    }
  });

  it('queries asked together go out one at a time, each after the previous answer; the same text again is sent the same; an end fails the ones waiting', async () => {
    const received: string[] = [];
    const { server, port: p } = await scripted((socket, chunk, n) => {
      if (n === 0) return void socket.write(Buffer.concat([AUTH_OK, READY]));
      const sql = chunk.subarray(5, chunk.length - 1).toString('utf8');
      received.push(chunk[0] === 0x51 && chunk.readInt32BE(1) === chunk.length - 1 ? sql : `not one query: ${chunk.toString('latin1')}`);
      // Answered late, so the next queries are asked while this one runs.
      setTimeout(() => socket.write(Buffer.concat([backend('T', Buffer.concat([Buffer.from([0, 1]), Buffer.from('q\0'), Buffer.alloc(18)])), backend('D', Buffer.concat([Buffer.from([0, 1]), int32(Buffer.byteLength(sql)), Buffer.from(sql)])), backend('C', Buffer.from('SELECT 1\0')), READY])), 20);
    });
    try {
      const session = await LeanPgSession.connect(target(p));
      const answers = await Promise.all(['SELECT 1', 'SELECT 2', 'SELECT 1', 'SELECT 1'].map((sql) => session.query(sql, 1000)));
      assert.deepEqual(answers.map((a) => a.rows), [[['SELECT 1']], [['SELECT 2']], [['SELECT 1']], [['SELECT 1']]]);
      assert.deepEqual(received, ['SELECT 1', 'SELECT 2', 'SELECT 1', 'SELECT 1']);
      const waiting = [session.query('SELECT 3', 1000), session.query('SELECT 4', 1000)];
      session.end();
      for (const query of waiting) await assert.rejects(query, (err: unknown) => err instanceof LeanPgError);
    } finally {
      server.close();
    }
  });

  it('the server closes while queries wait: the running one and every waiting one fail, oldest first; a query after that fails at once; a throwing onLost listener does not escape', async () => {
    const { server, port: p } = await scripted((socket, _chunk, n) => {
      if (n === 0) return void socket.write(Buffer.concat([AUTH_OK, READY]));
      // The first query is never answered: the server goes away instead.
      setTimeout(() => socket.destroy(), 30);
    });
    try {
      const session = await LeanPgSession.connect(target(p));
      const heard: string[] = [];
      session.onLost(() => {
        throw new Error('a listener that fails');
      });
      session.onLost(() => heard.push('lost'));
      const settled: string[] = [];
      const queries = ['SELECT 1', 'SELECT 2', 'SELECT 3'].map((sql) =>
        session.query(sql, 5000).then(
          () => settled.push(`${sql}: answered`),
          (err: unknown) => settled.push(`${sql}: ${err instanceof LeanPgError ? err.kind : 'other error'}`),
        ),
      );
      await Promise.all(queries);
      assert.deepEqual(settled, ['SELECT 1: closed', 'SELECT 2: closed', 'SELECT 3: closed']);
      assert.deepEqual(heard, ['lost'], 'the second listener heard the loss despite the first one throwing');
      await assert.rejects(session.query('SELECT 4', 1000), (err: unknown) => err instanceof LeanPgError && err.kind === 'closed');
    } finally {
      server.close();
    }
  });

  it('a query failed before its caller awaits it (a FATAL while the caller waits on something else) is no unhandled rejection; the caller still gets the error', async () => {
    const { server, port: p } = await scripted((socket, _chunk, n) => {
      if (n === 0) return void socket.write(Buffer.concat([AUTH_OK, READY]));
      socket.write(fatal('57P01'));
      socket.destroy();
    });
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const session = await LeanPgSession.connect(target(p));
      const sleeping = session.query('SELECT pg_sleep(5)', 5000);
      await new Promise((resolve) => setTimeout(resolve, 100));
      assert.deepEqual(unhandled, []);
      await assert.rejects(sleeping, (err: unknown) => err instanceof LeanPgError && err.kind === 'server' && err.code === '57P01');
    } finally {
      process.off('unhandledRejection', onUnhandled);
      server.close();
    }
  });

  it("SCRAM begun, then \"ok\" without the server's final message: refused (the server never proved it knows the password)", async () => {
    const { server, port: p } = await scripted((socket, _chunk, n) => {
      if (n === 0) socket.write(SASL);
      else socket.write(Buffer.concat([AUTH_OK, READY]));
    });
    try {
      await assert.rejects(LeanPgSession.connect(target(p, 'pw')), (err: unknown) => err instanceof LeanPgError && err.kind === 'protocol' && /without the server's final message/.test(err.message));
    } finally {
      server.close();
    }
  });

  it('ready for queries before any authentication: refused', async () => {
    const { server, port: p } = await scripted((socket) => socket.write(READY));
    try {
      await assert.rejects(LeanPgSession.connect(target(p)), (err: unknown) => err instanceof LeanPgError && err.kind === 'protocol' && /before the authentication ended/.test(err.message));
    } finally {
      server.close();
    }
  });

  it('a FATAL in the same chunk right behind the startup\'s ReadyForQuery ends the session it opened', async () => {
    const { server, port: p } = await scripted((socket) => socket.write(Buffer.concat([AUTH_OK, READY, fatal('57P01')])));
    try {
      const session = await LeanPgSession.connect(target(p));
      await new Promise((resolve) => setImmediate(resolve));
      assert.ok(session.ended, 'the FATAL was not dropped');
      await assert.rejects(session.query('SELECT 1', 1000), (err: unknown) => err instanceof LeanPgError && err.kind === 'closed');
    } finally {
      server.close();
    }
  });

  it('a FATAL during a query, then the close: the query fails with the SQLSTATE (the server answered), not as "closed"', async () => {
    const { server, port: p } = await scripted((socket, _chunk, n) => {
      if (n === 0) socket.write(Buffer.concat([AUTH_OK, READY]));
      else socket.end(fatal('57P01'));
    });
    try {
      const session = await LeanPgSession.connect(target(p));
      let lost = 0;
      session.onLost(() => lost++);
      await assert.rejects(session.query('SELECT 1', 1000), (err: unknown) => err instanceof LeanPgError && err.kind === 'server' && err.code === '57P01');
      assert.equal(lost, 1);
    } finally {
      server.close();
    }
  });

  it('a silent server: the connect times out, bounded, without an answer', async () => {
    const { server, port: p } = await scripted(() => undefined);
    try {
      await assert.rejects(LeanPgSession.connect({ ...target(p), connectTimeoutMs: 200 }), (err: unknown) => err instanceof LeanPgError && err.kind === 'timeout' && !err.startupAnswered && /^no answer within 200 ms/.test(err.message));
    } finally {
      server.close();
    }
  });

  it("a password request, then silence: the connect times out as a login that did not end, after the server's answer", async () => {
    const { server, port: p } = await scripted((socket, _chunk, n) => void (n === 0 && socket.write(SASL)));
    try {
      await assert.rejects(LeanPgSession.connect({ ...target(p, 'pw'), connectTimeoutMs: 300 }), (err: unknown) => err instanceof LeanPgError && err.kind === 'timeout' && err.startupAnswered && /^the login did not end within 300 ms/.test(err.message));
    } finally {
      server.close();
    }
  });

  it('a password request, then the close: ended after the answer', async () => {
    const { server, port: p } = await scripted((socket, _chunk, n) => void (n === 0 ? socket.write(SASL) : socket.destroy()));
    try {
      await assert.rejects(LeanPgSession.connect(target(p, 'pw')), (err: unknown) => err instanceof LeanPgError && err.kind === 'closed' && err.startupAnswered);
    } finally {
      server.close();
    }
  });

  it("the agent's probe of a master that asks for the password, then stalls: it sees the master; of a silent one: it does not", async () => {
    // Over TCP on the loopback: a server's hostname is a host in the configuration, not a socket folder.
    const tcp = async (script: (socket: Socket, n: number) => void): Promise<Server> => {
      const server = createServer((socket) => {
        let n = 0;
        socket.on('data', () => script(socket, n++));
        socket.on('error', () => undefined);
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      return server;
    };
    const portOf = (server: Server): number => (server.address() as { port: number }).port;
    const stalls = { server: await tcp((socket, n) => void (n === 0 && socket.write(SASL))) };
    const silent = { server: await tcp(() => undefined) };
    const yaml =
      `servers: {john: {hostname: 127.0.0.1, port: ${portOf(stalls.server)}, role: master}, ringo: {hostname: 127.0.0.1, port: ${portOf(silent.server)}, role: replica}, paul: {hostname: 127.0.0.12, role: replica}}\n` +
      'passwords: {handyrep_db_pass: pw}\n';
    try {
      const probe = new MasterProbe(parseConfig(yaml, 'test.yaml'), 300);
      assert.deepEqual(await probe.probe('john'), { sees: true, detail: 'answers the startup, then no answer within the timeout' });
      assert.deepEqual(await probe.probe('ringo'), { sees: false, detail: 'no answer within the timeout' });
      // Each target's own settings (resolved once per name): back to john, its server again.
      assert.deepEqual(await probe.probe('john'), { sees: true, detail: 'answers the startup, then no answer within the timeout' });
      probe.close();
    } finally {
      stalls.server.close();
      silent.server.close();
    }
  });
});
