/**
 * The hand-framed HTTP/2 session (src/store/etcd/lean/h2/session.ts) against node:http2 servers:
 * another implementation (nghttp2), whose encoder indexes, Huffman-codes and pads as it likes, and
 * which can be made to reset streams, send GOAWAY, PING, huge headers and bodies larger than any
 * window. Real etcd (both of its HTTP/2 servers: grpc-go's in the clear, Go's net/http2 over TLS)
 * is in test/integration/etcd-lean-client.test.ts.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http2 from 'node:http2';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import tls from 'node:tls';
import { encodeHeaderBlock } from '../../src/store/etcd/lean/h2/hpack.js';
import { H2Session, type HeaderFields } from '../../src/store/etcd/lean/h2/session.js';

interface Heard {
  headers: HeaderFields[];
  data: Buffer[];
  closed: Promise<string | null>;
}

function listen(server: net.Server): Promise<string> {
  return new Promise((done) => server.listen(0, '127.0.0.1', () => done(`127.0.0.1:${(server.address() as net.AddressInfo).port}`)));
}

async function h2Server(onStream: (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, session: http2.ServerHttp2Session) => void, options: http2.ServerOptions = {}): Promise<{ url: URL; server: http2.Http2Server; close: () => Promise<void> }> {
  const server = http2.createServer(options);
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on('session', (session) => {
    sessions.add(session);
    session.on('error', () => undefined);
  });
  server.on('stream', (stream, headers) => {
    stream.on('error', () => undefined);
    onStream(stream, headers, stream.session as http2.ServerHttp2Session);
  });
  const host = await listen(server);
  return {
    url: new URL(`http://${host}`),
    server,
    close: () => {
      for (const session of sessions) session.destroy();
      return new Promise((done) => server.close(() => done()));
    },
  };
}

function requestBlock(url: URL, path: string): Buffer {
  return encodeHeaderBlock([
    [':method', 'POST'],
    [':scheme', url.protocol === 'https:' ? 'https' : 'http'],
    [':path', path],
    [':authority', url.host],
    ['content-type', 'application/grpc'],
  ]);
}

/** Opens a stream on `session` and records what it hears. */
function open(session: H2Session, url: URL, path: string, body: Buffer | null, end = true): { heard: Heard; stream: ReturnType<H2Session['request']> } {
  let closedWith: (why: string | null) => void = () => undefined;
  const heard: Heard = { headers: [], data: [], closed: new Promise((done) => (closedWith = done)) };
  const stream = session.request(requestBlock(url, path), {
    headers: (fields) => heard.headers.push(fields),
    data: (chunk) => heard.data.push(Buffer.from(chunk)),
    closed: (why) => closedWith(why),
  });
  if (body !== null) stream.write(body, end);
  return { heard, stream };
}

const noFailure = (reason: string): void => assert.fail(`the session failed: ${reason}`);

test('a call: response headers, data, trailers, then closed(null); the request body arrives whole', async () => {
  const member = await h2Server((stream) => {
    const parts: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => parts.push(chunk));
    stream.on('end', () => {
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0', 'grpc-message': 'all%20good' }));
      stream.end(Buffer.concat(parts).reverse());
    });
  });
  const session = new H2Session(member.url, null, noFailure);
  try {
    const { heard } = open(session, member.url, '/x', Buffer.from('hello'));
    assert.equal(await heard.closed, null);
    assert.equal(heard.headers.length, 2);
    assert.equal(heard.headers[0]?.[':status'], '200');
    assert.equal(heard.headers[0]?.['content-type'], 'application/grpc');
    assert.deepEqual(heard.headers[1], { 'grpc-status': '0', 'grpc-message': 'all%20good' });
    assert.equal(Buffer.concat(heard.data).toString(), 'olleh');
  } finally {
    session.destroy();
    await member.close();
  }
});

test('bodies larger than every window go both ways (flow control: WINDOW_UPDATEs sent and waited for)', async () => {
  const big = Buffer.alloc(3 * 1024 * 1024 + 17, 7);
  const upload = Buffer.alloc(300 * 1024 + 3, 9);
  let uploaded = 0;
  const member = await h2Server((stream, headers) => {
    if (headers[':path'] === '/down') {
      stream.respond({ ':status': 200 });
      stream.end(big);
      return;
    }
    stream.on('data', (chunk: Buffer) => (uploaded += chunk.length));
    stream.on('end', () => {
      stream.respond({ ':status': 200 });
      stream.end(String(uploaded));
    });
  });
  const session = new H2Session(member.url, null, noFailure);
  try {
    const down = open(session, member.url, '/down', Buffer.alloc(0));
    assert.equal(await down.heard.closed, null);
    assert.equal(Buffer.concat(down.heard.data).length, big.length);
    const up = open(session, member.url, '/up', upload);
    assert.equal(await up.heard.closed, null);
    assert.equal(Buffer.concat(up.heard.data).toString(), String(upload.length));
  } finally {
    session.destroy();
    await member.close();
  }
});

test('padded frames, huge headers in CONTINUATION frames, and hundreds of calls through the server’s evicting header table', async () => {
  const member = await h2Server(
    (stream, headers) => {
      const n = Number(headers['x-n']);
      stream.respond({ ':status': 200, 'x-big': 'b'.repeat(n === 0 ? 40_000 : 10), 'x-varying': `value-${n}-${'v'.repeat(n % 50)}` });
      stream.end(`body ${n}`);
    },
    { paddingStrategy: http2.constants.PADDING_STRATEGY_MAX },
  );
  const session = new H2Session(member.url, null, noFailure);
  try {
    for (let n = 0; n < 300; n++) {
      let closedWith: (why: string | null) => void = () => undefined;
      const closed = new Promise<string | null>((done) => (closedWith = done));
      const headers: HeaderFields[] = [];
      const data: Buffer[] = [];
      const stream = session.request(Buffer.concat([requestBlock(member.url, '/h'), encodeHeaderBlock([['x-n', String(n)]])]), {
        headers: (fields) => headers.push(fields),
        data: (chunk) => data.push(Buffer.from(chunk)),
        closed: (why) => closedWith(why),
      });
      stream.write(Buffer.alloc(0), true);
      assert.equal(await closed, null, `call ${n}`);
      assert.equal(headers[0]?.['x-big']?.length, n === 0 ? 40_000 : 10);
      assert.equal(headers[0]?.['x-varying'], `value-${n}-${'v'.repeat(n % 50)}`);
      assert.equal(Buffer.concat(data).toString(), `body ${n}`);
    }
  } finally {
    session.destroy();
    await member.close();
  }
});

test('a stream the server resets is closed naming the code; the session stays usable', async () => {
  const member = await h2Server((stream, headers) => {
    if (headers[':path'] === '/reset') return void stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
    stream.respond({ ':status': 200 });
    stream.end('fine');
  });
  const session = new H2Session(member.url, null, noFailure);
  try {
    const reset = open(session, member.url, '/reset', Buffer.from('x'));
    assert.match(String(await reset.heard.closed), /reset the stream \(REFUSED_STREAM\)/);
    const fine = open(session, member.url, '/fine', Buffer.from('x'));
    assert.equal(await fine.heard.closed, null);
    assert.equal(session.failure, null);
  } finally {
    session.destroy();
    await member.close();
  }
});

test('cancel() resets the stream at the server (CANCEL) and its handlers hear nothing more', async () => {
  let serverClosed: (code: number) => void = () => undefined;
  const rstCode = new Promise<number>((done) => (serverClosed = done));
  const member = await h2Server((stream) => {
    stream.respond({ ':status': 200 });
    stream.write('first');
    stream.on('close', () => serverClosed(stream.rstCode));
  });
  const session = new H2Session(member.url, null, noFailure);
  try {
    const { heard, stream } = open(session, member.url, '/slow', Buffer.from('x'), false);
    while (heard.data.length === 0) await new Promise((done) => setTimeout(done, 5));
    stream.cancel();
    assert.equal(await rstCode, http2.constants.NGHTTP2_CANCEL);
    assert.equal(stream.closed, true);
    const settled = await Promise.race([heard.closed.then(() => 'closed'), new Promise((done) => setTimeout(() => done('silent'), 100))]);
    assert.equal(settled, 'silent');
  } finally {
    session.destroy();
    await member.close();
  }
});

test('GOAWAY fails the session once, naming it, and closes its open streams', async () => {
  let goaway: () => void = () => undefined;
  const member = await h2Server((stream, _headers, serverSession) => {
    stream.respond({ ':status': 200 });
    stream.write('partial');
    goaway = () => serverSession.goaway(http2.constants.NGHTTP2_ENHANCE_YOUR_CALM, 0, Buffer.from('too many pings'));
  });
  const failures: string[] = [];
  const session = new H2Session(member.url, null, (reason) => failures.push(reason));
  try {
    const { heard } = open(session, member.url, '/x', Buffer.from('x'), false);
    while (heard.data.length === 0) await new Promise((done) => setTimeout(done, 5));
    goaway();
    assert.match(String(await heard.closed), /GOAWAY \(ENHANCE_YOUR_CALM: too many pings\)/);
    await new Promise((done) => setTimeout(done, 50));
    assert.equal(failures.length, 1);
    assert.throws(() => session.request(requestBlock(member.url, '/y'), { headers: () => undefined, data: () => undefined, closed: () => undefined }), /GOAWAY/);
  } finally {
    session.destroy();
    await member.close();
  }
});

test('a PING from the server is acknowledged', async () => {
  let pinged: Promise<Buffer> | null = null;
  const member = await h2Server((stream, _headers, serverSession) => {
    pinged = new Promise((done, fail) => serverSession.ping(Buffer.from('12345678'), (err, _ms, payload) => (err ? fail(err) : done(payload))));
    stream.respond({ ':status': 200 });
    stream.end();
  });
  const session = new H2Session(member.url, null, noFailure);
  try {
    const { heard } = open(session, member.url, '/x', Buffer.from('x'));
    await heard.closed;
    assert.equal((await (pinged as unknown as Promise<Buffer>)).toString(), '12345678');
  } finally {
    session.destroy();
    await member.close();
  }
});

test('a server speaking something else, a refused connection, and destroy(): failures are reported, never thrown', async () => {
  const junk = net.createServer((socket) => {
    socket.on('error', () => undefined);
    socket.write(Buffer.from('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n'));
  });
  const junkHost = await listen(junk);
  const failures: string[] = [];
  const junkSession = new H2Session(new URL(`http://${junkHost}`), null, (reason) => failures.push(reason));
  const onJunk = open(junkSession, new URL(`http://${junkHost}`), '/x', Buffer.from('x'));
  assert.match(String(await onJunk.heard.closed), /FRAME_SIZE_ERROR|PROTOCOL_ERROR|connection closed/);
  assert.equal(failures.length, 1);
  junk.close();

  const refusedFailures: string[] = [];
  const refused = new H2Session(new URL(`http://${junkHost}`), null, (reason) => refusedFailures.push(reason));
  const onRefused = open(refused, new URL(`http://${junkHost}`), '/x', Buffer.from('x'));
  assert.match(String(await onRefused.heard.closed), /ECONNREFUSED/);
  assert.equal(refused.brokenBy?.includes('ECONNREFUSED'), true);

  const member = await h2Server(() => undefined);
  const destroyedFailures: string[] = [];
  const destroyed = new H2Session(member.url, null, (reason) => destroyedFailures.push(reason));
  const pending = open(destroyed, member.url, '/never', Buffer.from('x'), false);
  destroyed.destroy('stopping');
  assert.equal(await pending.heard.closed, 'stopping');
  assert.equal(destroyedFailures.length, 0, 'destroy() is not a failure of the session');
  assert.equal(destroyed.brokenBy, null);
  await member.close();
});

test('https: ALPN h2 with a trusted certificate works; a server without h2, or an untrusted certificate, fails the session', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'handyrep-h2-tls-'));
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'key.pem', '-out', 'cert.pem', '-days', '1', '-subj', '/CN=h2-test', '-addext', 'subjectAltName=IP:127.0.0.1'], { cwd: dir, stdio: 'ignore' });
    const key = readFileSync(join(dir, 'key.pem'));
    const cert = readFileSync(join(dir, 'cert.pem'));
    const secure = http2.createSecureServer({ key, cert });
    secure.on('session', (s) => s.on('error', () => undefined));
    secure.on('stream', (stream) => {
      stream.respond({ ':status': 200 });
      stream.end('secret');
    });
    const url = new URL(`https://${await listen(secure)}`);
    const session = new H2Session(url, { ca: cert, cert: null, key: null }, noFailure);
    const { heard } = open(session, url, '/x', Buffer.from('x'));
    assert.equal(await heard.closed, null);
    assert.equal(Buffer.concat(heard.data).toString(), 'secret');
    session.destroy();

    const untrusted = new H2Session(url, { ca: null, cert: null, key: null }, () => undefined);
    assert.match(String(await open(untrusted, url, '/x', Buffer.from('x')).heard.closed), /self-signed certificate/);
    secure.close();

    const plainTls = tls.createServer({ key, cert }, (socket) => socket.on('error', () => undefined));
    const plainUrl = new URL(`https://${await listen(plainTls)}`);
    const noH2 = new H2Session(plainUrl, { ca: cert, cert: null, key: null }, () => undefined);
    assert.match(String(await open(noH2, plainUrl, '/x', Buffer.from('x')).heard.closed), /did not agree to HTTP\/2|no application protocol/i);
    plainTls.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('grpc-go’s bandwidth probe (its fixed PING payload) is answered with the next write, not with a write of its own', async () => {
  const probe = Buffer.from([2, 4, 16, 16, 9, 14, 7, 7]);
  let serverSession: http2.ServerHttp2Session | null = null;
  let requests = 0;
  const member = await h2Server((stream, _headers, session) => {
    serverSession = session;
    requests++;
    stream.respond({ ':status': 200 });
    stream.end();
  });
  const session = new H2Session(member.url, null, noFailure);
  try {
    await open(session, member.url, '/first', Buffer.from('x')).heard.closed;
    let answeredAfter: number | null = null;
    (serverSession as unknown as http2.ServerHttp2Session).ping(probe, (err) => {
      if (err === null) answeredAfter = requests;
    });
    await new Promise((done) => setTimeout(done, 150));
    assert.equal(answeredAfter, null, 'no write of its own');
    await open(session, member.url, '/second', Buffer.from('x')).heard.closed;
    for (let i = 0; i < 100 && answeredAfter === null; i++) await new Promise((done) => setTimeout(done, 5));
    assert.equal(answeredAfter, 2, 'answered along with the next request');
  } finally {
    session.destroy();
    await member.close();
  }
});

test('a header block continued without end fails the session once it passes 256 kB (memory stays bounded)', { timeout: 10_000 }, async () => {
  const frameOf = (type: number, flags: number, payload: Buffer): Buffer => {
    const head = Buffer.alloc(9);
    head.writeUIntBE(payload.length, 0, 3);
    head[3] = type;
    head[4] = flags;
    head.writeUInt32BE(1, 5);
    return Buffer.concat([head, payload]);
  };
  let sent = 0;
  const flood = net.createServer((socket) => {
    socket.on('error', () => undefined);
    socket.once('data', () => {
      socket.write(Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]));
      socket.write(frameOf(1, 0, Buffer.from([0x88])));
      const more = (): void => {
        if (socket.destroyed || sent >= 400) return;
        sent++;
        if (socket.write(frameOf(9, 0, Buffer.alloc(16_000, 0x40)))) setImmediate(more);
        else socket.once('drain', more);
      };
      more();
    });
  });
  const host = await listen(flood);
  const failures: string[] = [];
  const session = new H2Session(new URL(`http://${host}`), null, (reason) => failures.push(reason));
  try {
    const { heard } = open(session, new URL(`http://${host}`), '/x', Buffer.from('x'));
    assert.match(String(await heard.closed), /ENHANCE_YOUR_CALM.*header block above 262144 bytes/);
    assert.equal(failures.length, 1);
    assert.ok(sent < 400, `the server sent all ${sent} frames: the session kept reading`);
  } finally {
    session.destroy();
    flood.close();
  }
});

test('a handler that throws ends the session with the reason; nothing escapes into the socket listener', { timeout: 10_000 }, async () => {
  const member = await h2Server((stream) => {
    stream.respond({ ':status': 200 });
    stream.end('data');
  });
  const failures: string[] = [];
  const session = new H2Session(member.url, null, (reason) => failures.push(reason));
  try {
    let closedWith: (why: string | null) => void = () => undefined;
    const closed = new Promise<string | null>((done) => (closedWith = done));
    session
      .request(requestBlock(member.url, '/x'), {
        headers: () => undefined,
        data: () => {
          throw new Error('boom in a handler');
        },
        closed: (why) => closedWith(why),
      })
      .write(Buffer.from('x'), true);
    assert.match(String(await closed), /failed reading an answer: boom in a handler/);
    assert.deepEqual(failures, ['the HTTP/2 session failed reading an answer: boom in a handler']);
  } finally {
    session.destroy();
    await member.close();
  }
});
