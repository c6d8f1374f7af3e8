/**
 * LocalPostgres.observe against a scripted server on a unix socket and a data folder of its own:
 * while the kept session answers, postmaster.pid and /proc are not read again (idle cost), and
 * the pid read when the session first answered stands; once the session is gone, or its query
 * fails, the files decide, with no second query in that round.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { LocalPostgres } from '../../src/agent/local-postgres.js';
import { backend, int16, int32 } from '../fixtures/pg-backend-messages.js';

const READY = backend('Z', Buffer.from('I'));
const COLUMNS: readonly [string, string | null][] = [
  ['in_recovery', 'f'],
  ['checkpoint_timeline', '1'],
  ['wal_file', '000000010000000000000001'],
  ['wal_position', '0/1000000'],
  ['received_lsn', null],
  ['replayed_lsn', null],
  ['wal_receiver', null],
  ['receiver_timeline', null],
  ['sender_host', null],
  ['sender_end_lsn', null],
  ['sender_msg_age_s', null],
  ['replay_lag_bytes', null],
  ['server_version', '15.0'],
];
const FACTS_ANSWER = Buffer.concat([
  backend('T', Buffer.concat([int16(COLUMNS.length), ...COLUMNS.map(([name]) => Buffer.concat([Buffer.from(`${name}\0`), Buffer.alloc(18)]))])),
  backend('D', Buffer.concat([int16(COLUMNS.length), ...COLUMNS.map(([, v]) => (v === null ? int32(-1) : Buffer.concat([int32(Buffer.byteLength(v)), Buffer.from(v)])))])),
  backend('C', Buffer.from('SELECT 1\0')),
  READY,
]);

const root = mkdtempSync(join(tmpdir(), 'agent-observe-'));
after(() => rmSync(root, { recursive: true, force: true }));
let port = 7100;

/** A data folder whose postmaster.pid names this process (alive), and a server on its socket. */
async function bed(answer: (socket: Socket, n: number) => void): Promise<{ pg: LocalPostgres; server: Server; pidFile: string; queries: () => number; sockets: Socket[] }> {
  const p = port++;
  const pgdata = mkdtempSync(join(root, 'data-'));
  const pidFile = join(pgdata, 'postmaster.pid');
  writeFileSync(pidFile, `${process.pid}\n${pgdata}\n`);
  let queries = 0;
  const sockets: Socket[] = [];
  const server = createServer((socket) => {
    sockets.push(socket);
    let n = 0;
    socket.on('data', () => {
      if (n++ === 0) return void socket.write(Buffer.concat([backend('R', int32(0)), READY]));
      queries++;
      answer(socket, queries);
    });
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(join(pgdata, `.s.PGSQL.${p}`), resolve));
  const pg = new LocalPostgres({ pgdata, pgctlDir: pgdata, pgBinDir: '/nonexistent', port: p, socketDir: pgdata, logFile: null }, 300);
  return { pg, server, pidFile, queries: () => queries, sockets };
}

describe('LocalPostgres.observe: the kept session stands for the postmaster', () => {
  it('while the session answers, postmaster.pid is not read again; once it is gone, the file decides', async () => {
    const b = await bed((socket) => socket.write(FACTS_ANSWER));
    try {
      const first = await b.pg.observe();
      assert.deepEqual(first.observation, { pidFilePid: process.pid, pidAlive: true, writable: true });
      assert.equal(first.facts?.timeline, 1);
      // The session was opened in that round, after the file was read (it might belong to a
      // postmaster started since): the next round still reads the file, and then the pid stands.
      const second = await b.pg.observe();
      assert.deepEqual(second.observation, { pidFilePid: process.pid, pidAlive: true, writable: true });
      // The file goes; the session still answers: the round does not look at the file.
      unlinkSync(b.pidFile);
      const third = await b.pg.observe();
      assert.deepEqual(third.observation, { pidFilePid: process.pid, pidAlive: true, writable: true });
      assert.equal(b.queries(), 3);
      // The server ends the session: the next round reads the file (gone: stopped), and queries nothing.
      for (const socket of b.sockets) socket.destroy();
      await new Promise((resolve) => setTimeout(resolve, 50));
      const fourth = await b.pg.observe();
      assert.deepEqual(fourth.observation, { pidFilePid: null, pidAlive: false, writable: null });
      assert.equal(fourth.facts, null);
      assert.equal(b.queries(), 3);
    } finally {
      b.pg.close();
      b.server.close();
    }
  });

  it('a query that fails on the kept session: the files decide (alive: unresponsive), without a second query in that round', async () => {
    const b = await bed((socket, n) => {
      if (n === 1) socket.write(FACTS_ANSWER); // later queries get no answer
    });
    try {
      assert.equal((await b.pg.observe()).observation.writable, true);
      const silent = await b.pg.observe();
      assert.deepEqual(silent.observation, { pidFilePid: process.pid, pidAlive: true, writable: null });
      assert.equal(silent.facts, null);
      assert.equal(b.queries(), 2, 'one query in the round that timed out, not a second on a new session');
    } finally {
      b.pg.close();
      b.server.close();
    }
  });

  it('a postmaster.pid naming a dead process while no session answers: not alive, nothing queried', async () => {
    const b = await bed((socket) => socket.write(FACTS_ANSWER));
    try {
      writeFileSync(b.pidFile, '2147483646\n');
      const seen = await b.pg.observe();
      assert.deepEqual(seen.observation, { pidFilePid: 2147483646, pidAlive: false, writable: null });
      assert.equal(b.queries(), 0);
    } finally {
      b.pg.close();
      b.server.close();
    }
  });
});
