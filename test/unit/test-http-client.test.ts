/**
 * The tests' REST client (test/fixtures/daemon.ts `http`) against a server that closes an idle
 * keep-alive connection just as the next request arrives on it (what the daemon's keep-alive close
 * does when it runs late on a loaded machine: CI run 23, "socket hang up" in ha-adopt-agents-master):
 * an idempotent request is sent again on a new connection, a POST is not (the caller sees the error),
 * and a pooled connection idle for longer than IDLE_SOCKET_MS is not reused at all.
 */
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { test } from 'node:test';
import { http, IDLE_SOCKET_MS } from '../fixtures/daemon.js';

interface RawServer {
  url: string;
  /** Requests seen, as `<connection number> <method> <path>`. */
  seen: string[];
  close: () => Promise<void>;
}

/**
 * A keep-alive HTTP server by hand: every request is answered `ok <connection number>`, except that
 * on connection 1 the second request is not answered: the connection is destroyed instead.
 */
async function rawServer(): Promise<RawServer> {
  const seen: string[] = [];
  const sockets = new Set<Socket>();
  let connections = 0;
  const server: Server = createServer((socket) => {
    const n = ++connections;
    let onThis = 0;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    let buffered = '';
    socket.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('latin1');
      for (let end = buffered.indexOf('\r\n\r\n'); end >= 0; end = buffered.indexOf('\r\n\r\n')) {
        const head = buffered.slice(0, end);
        const length = Number(/content-length: *(\d+)/i.exec(head)?.[1] ?? 0);
        buffered = buffered.slice(end + 4 + length);
        const [method, path] = head.split(' ');
        seen.push(`${n} ${method} ${path}`);
        if (n === 1 && ++onThis === 2) {
          socket.destroy();
          return;
        }
        const body = `ok ${n}`;
        socket.write(`HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\n\r\n${body}`);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

test('test http client: a GET whose reused connection is closed under it is sent again on a new connection', async () => {
  const server = await rawServer();
  try {
    assert.equal((await http(server.url, '/a')).text, 'ok 1');
    const again = await http(server.url, '/b');
    assert.equal(again.text, 'ok 2');
    assert.deepEqual(server.seen, ['1 GET /a', '1 GET /b', '2 GET /b']);
  } finally {
    await server.close();
  }
});

test('test http client: a POST whose reused connection is closed under it is not sent again', async () => {
  const server = await rawServer();
  try {
    assert.equal((await http(server.url, '/a')).text, 'ok 1');
    await assert.rejects(http(server.url, '/b', { method: 'POST', body: 'x' }), (err: NodeJS.ErrnoException) => err.code === 'ECONNRESET');
    assert.deepEqual(server.seen, ['1 GET /a', '1 POST /b']);
  } finally {
    await server.close();
  }
});

test('test http client: a connection idle for longer than IDLE_SOCKET_MS is not reused', async () => {
  const server = await rawServer();
  try {
    assert.equal((await http(server.url, '/a')).text, 'ok 1');
    await new Promise((resolve) => setTimeout(resolve, IDLE_SOCKET_MS + 400));
    assert.equal((await http(server.url, '/b')).text, 'ok 2', 'a new connection');
    assert.deepEqual(server.seen, ['1 GET /a', '2 GET /b']);
  } finally {
    await server.close();
  }
});
