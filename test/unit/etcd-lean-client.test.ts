/**
 * The lean etcd client's call discipline against local HTTP/2 servers standing in for etcd members
 * that misbehave in ways a real one cannot be made to on demand (review s8-lean F1–F3): overlapping
 * renewals of one lease, a frozen member under a renewal interval, a member refusing fast, a token
 * fetch eating the attempt's time. The happy paths and real refusals run against real etcd in
 * test/integration/etcd-lean-client.test.ts.
 */
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import net from 'node:net';
import { test } from 'node:test';
import { AgentLease } from '../../src/agent/agent-lease.js';
import type { EtcdContext } from '../../src/store/etcd/client.js';
import { LeanEtcd } from '../../src/store/etcd/lean/client.js';
import { FrameDecoder, grpcFrame } from '../../src/store/etcd/lean/frames.js';
import { LeanKeepalive } from '../../src/store/etcd/lean/keepalive.js';
import { encodeTxnPutThenGet } from '../../src/store/etcd/lean/messages.js';
import { ProtoReader, ProtoWriter } from '../../src/store/etcd/lean/proto.js';

const LEASE = '7587869315937226497';
const sleep = (ms: number): Promise<void> => new Promise((done) => setTimeout(done, ms));

type Handler = (path: string, stream: http2.ServerHttp2Stream) => void;

async function fakeMember(handler: Handler): Promise<{ url: string; sessions: () => number; close: () => Promise<void> }> {
  const server = http2.createServer();
  let sessions = 0;
  server.on('session', (session) => {
    sessions++;
    session.on('error', () => undefined);
  });
  server.on('stream', (stream, headers) => {
    stream.on('error', () => undefined);
    handler(String(headers[':path']), stream);
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', () => done()));
  const { port } = server.address() as net.AddressInfo;
  return { url: `http://127.0.0.1:${port}`, sessions: () => sessions, close: () => new Promise((done) => server.close(() => done())) };
}

/** Accepts TCP connections and never answers (a SIGSTOPped etcd: the kernel still accepts). */
async function frozenMember(): Promise<{ url: string; close: () => Promise<void> }> {
  const sockets: net.Socket[] = [];
  const server = net.createServer((socket) => {
    socket.on('error', () => undefined);
    sockets.push(socket);
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', () => done()));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => {
      for (const socket of sockets) socket.destroy();
      return new Promise((done) => server.close(() => done()));
    },
  };
}

function onMessages(stream: http2.ServerHttp2Stream, each: (message: Buffer) => void): void {
  const decoder = new FrameDecoder();
  stream.on('data', (chunk: Buffer) => decoder.push(chunk).forEach(each));
}

function keepaliveId(message: Buffer): string {
  const reader = new ProtoReader(message);
  let id = '0';
  while (!reader.done) {
    const tag = reader.tag();
    if (tag === 8) id = reader.int64();
    else reader.skip(tag);
  }
  return id;
}

const keepaliveReply = (id: string, ttl: string): Buffer => grpcFrame(new ProtoWriter().bytes(1, new ProtoWriter().varint(3, 5).finish()).varint(2, id).varint(3, ttl).finish());

/** Answers every keep-alive write at once with TTL 10. */
const healthyKeepalive: Handler = (_path, stream) => {
  stream.respond({ ':status': 200, 'content-type': 'application/grpc' });
  onMessages(stream, (message) => stream.write(keepaliveReply(keepaliveId(message), '10')));
};

/** The event loop's worst lateness while `run` runs, ms. */
async function loopLag<T>(run: () => Promise<T>): Promise<{ result: T; lagMs: number }> {
  let worst = 0;
  let last = performance.now();
  const probe = setInterval(() => {
    const now = performance.now();
    worst = Math.max(worst, now - last - 5);
    last = now;
  }, 5);
  try {
    return { result: await run(), lagMs: worst };
  } finally {
    clearInterval(probe);
  }
}

test('overlapping renewals of one lease each get the answer to their own write, in order, without spinning (F1)', async () => {
  let writes = 0;
  const member = await fakeMember((_path, stream) => {
    stream.respond({ ':status': 200, 'content-type': 'application/grpc' });
    onMessages(stream, (message) => {
      const n = ++writes;
      const id = keepaliveId(message);
      setTimeout(() => stream.write(keepaliveReply(id, n === 1 ? '10' : '20')), n === 1 ? 150 : 300);
    });
  });
  const etcd = new LeanEtcd({ endpoints: [member.url], tls: null, auth: null });
  const keepalive = new LeanKeepalive(etcd);
  try {
    const { result, lagMs } = await loopLag(async () => {
      const first = keepalive.keepalive(LEASE, 900);
      await sleep(60);
      const second = keepalive.keepalive(LEASE, 900);
      return Promise.all([first, second]);
    });
    assert.deepEqual(result, ['10', '20'], 'the later call never takes the earlier write’s answer');
    assert.equal(writes, 2);
    assert.ok(lagMs < 50, `event loop late by ${Math.round(lagMs)} ms`);
  } finally {
    keepalive.close();
    etcd.close();
    await member.close();
  }
});

test('renewals started every interval while the first member is frozen move to the next member and succeed (F1)', async () => {
  const frozen = await frozenMember();
  const healthy = await fakeMember(healthyKeepalive);
  const etcd = new LeanEtcd({ endpoints: [frozen.url, healthy.url], tls: null, auth: null });
  const keepalive = new LeanKeepalive(etcd);
  let ok = 0;
  let failed = 0;
  try {
    // Scaled from the boot's interval (1 s renewals, callMs 2333): renewals overlap the frozen one.
    const { lagMs } = await loopLag(async () => {
      const calls: Promise<void>[] = [];
      for (let i = 0; i < 8; i++) {
        calls.push(keepalive.keepalive(LEASE, 700).then(() => void ok++, () => void failed++));
        await sleep(300);
      }
      await Promise.all(calls);
    });
    assert.ok(ok >= 5, `${ok} renewals succeeded, ${failed} failed`);
    assert.equal(etcd.endpoint, healthy.url);
    assert.ok(lagMs < 100, `event loop late by ${Math.round(lagMs)} ms`);
  } finally {
    keepalive.close();
    etcd.close();
    await Promise.all([frozen.close(), healthy.close()]);
  }
});

test('a member refusing at once ("no leader") gets a few attempts per call, not a connection storm (F2)', async () => {
  const member = await fakeMember((_path, stream) => stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '14', 'grpc-message': 'etcdserver: no leader' }, { endStream: true }));
  const etcd = new LeanEtcd({ endpoints: [member.url], tls: null, auth: null });
  const keepalive = new LeanKeepalive(etcd);
  try {
    await assert.rejects(etcd.call('write', '/etcdserverpb.KV/Txn', encodeTxnPutThenGet(Buffer.from('a'), Buffer.from('b'), '1', Buffer.from('c')), 2000), /\(write\).*no leader/);
    assert.ok(member.sessions() <= 6, `${member.sessions()} sessions for one call`);
    const before = member.sessions();
    await assert.rejects(keepalive.keepalive(LEASE, 2000), /no leader/);
    assert.ok(member.sessions() - before <= 6, `${member.sessions() - before} sessions for one keep-alive`);
  } finally {
    keepalive.close();
    etcd.close();
    await member.close();
  }
});

test('a slow Authenticate shares the attempt’s time with the call: the call ends within its deadline (F3)', async () => {
  let txns = 0;
  const member = await fakeMember((path, stream) => {
    if (path.endsWith('/Authenticate')) {
      setTimeout(() => {
        if (stream.closed) return;
        stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
        stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
        stream.end(grpcFrame(new ProtoWriter().bytes(2, 'token').finish()));
      }, 240);
      return;
    }
    if (++txns <= 2) stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '16', 'grpc-message': 'etcdserver: invalid auth token' }, { endStream: true });
  });
  const etcd = new LeanEtcd({ endpoints: [member.url], tls: null, auth: { user: 'agent', password: 'pw' } });
  try {
    const started = performance.now();
    await assert.rejects(etcd.call('write', '/etcdserverpb.KV/Txn', encodeTxnPutThenGet(Buffer.from('a'), Buffer.from('b'), '1', Buffer.from('c')), 900), /within 900 ms \(write\)/);
    const tookMs = performance.now() - started;
    assert.ok(tookMs <= 930, `took ${Math.round(tookMs)} ms`);
  } finally {
    etcd.close();
    await member.close();
  }
});

test('AgentLease: a renewal asked for while one is in flight shares it (one keep-alive, not two)', async () => {
  let calls = 0;
  let answer: (ttl: string) => void = () => undefined;
  const channel = {
    keepalive: () => {
      calls++;
      return new Promise<string>((resolve) => (answer = resolve));
    },
    close: () => undefined,
  };
  const ctx = { client: { leaseClient: { leaseGrant: async () => ({ ID: LEASE }) } }, ttlSeconds: 5 } as unknown as EtcdContext;
  const lease = new AgentLease(ctx, 'master lease', 3000, () => undefined, () => performance.now(), channel as never);
  try {
    assert.equal(await lease.hold(1000), true);
    const first = lease.hold(1000);
    const second = lease.hold(1000);
    await sleep(10);
    assert.equal(calls, 1);
    answer('5');
    assert.deepEqual(await Promise.all([first, second]), [true, true]);
    const third = lease.hold(1000);
    await sleep(10);
    assert.equal(calls, 2, 'a renewal after the shared one ended is a new one');
    answer('5');
    assert.equal(await third, true);
  } finally {
    lease.close();
  }
});

test('AgentLease: a renewal in flight is not shared with a lease granted after a release meanwhile (N9)', async () => {
  const answers: Array<(ttl: string) => void> = [];
  const channel = { keepalive: () => new Promise<string>((resolve) => answers.push(resolve)), close: () => undefined };
  let grants = 0;
  const ctx = { client: { leaseClient: { leaseGrant: async () => ({ ID: String(++grants) }), leaseRevoke: async () => ({}) } }, ttlSeconds: 5 } as unknown as EtcdContext;
  const lease = new AgentLease(ctx, 'master lease', 3000, () => undefined, () => performance.now(), channel as never);
  try {
    assert.equal(await lease.hold(1000), true);
    const old = lease.hold(1000);
    await sleep(5);
    await lease.release(1000);
    assert.equal(await lease.hold(1000), true, 'granted again');
    assert.equal(lease.id, '2');
    const renewal = lease.hold(1000);
    await sleep(5);
    assert.equal(answers.length, 2, 'the new lease’s renewal is its own keep-alive');
    answers[1]?.('5');
    assert.equal(await renewal, true);
    answers[0]?.('5');
    assert.equal(await old, false, 'the old renewal answers for the old lease: not held any more');
  } finally {
    lease.close();
  }
});
