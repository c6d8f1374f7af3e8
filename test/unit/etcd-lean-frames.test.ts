/**
 * gRPC framing and status verdicts of the lean etcd client (src/store/etcd/lean/frames.ts).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CallHeaders, FrameDecoder, grpcFrame, judgeStatus, statusOf } from '../../src/store/etcd/lean/frames.js';

test('grpcFrame: flag 0, big-endian length, the message', () => {
  assert.equal(grpcFrame(Buffer.from('abc')).toString('hex'), '0000000003616263');
  assert.equal(grpcFrame(Buffer.alloc(0)).toString('hex'), '0000000000');
});

test('FrameDecoder: messages split across chunks and several in one chunk', () => {
  const all = Buffer.concat([grpcFrame(Buffer.from('one')), grpcFrame(Buffer.from('second')), grpcFrame(Buffer.alloc(0))]);
  for (let cut = 0; cut <= all.length; cut++) {
    const decoder = new FrameDecoder();
    const got = [...decoder.push(all.subarray(0, cut)), ...decoder.push(all.subarray(cut))].map((m) => m.toString());
    assert.deepEqual(got, ['one', 'second', ''], `cut at ${cut}`);
    assert.equal(decoder.partial, false);
  }
  const decoder = new FrameDecoder();
  assert.deepEqual(decoder.push(all.subarray(0, 6)), []);
  assert.equal(decoder.partial, true);
});

test('FrameDecoder: a compressed or oversized message is an error', () => {
  assert.throws(() => new FrameDecoder().push(Buffer.from('0100000001ff', 'hex')), /compressed/);
  assert.throws(() => new FrameDecoder().push(Buffer.from('00ffffffff', 'hex')), /bytes \(more than/);
});

test('statusOf: code and percent-decoded message; none without grpc-status', () => {
  assert.deepEqual(statusOf({ 'grpc-status': '14', 'grpc-message': 'etcdserver:%20no%20leader' }), { code: 14, message: 'etcdserver: no leader' });
  assert.equal(statusOf({ ':status': '200' }), null);
  assert.deepEqual(statusOf({ 'grpc-status': 'x' }), { code: 2, message: '' });
  assert.deepEqual(statusOf({ 'grpc-status': '' }), { code: 2, message: '' }, 'an empty status is not OK');
});

test('judgeStatus: ok, member faults, token invalid, refused', () => {
  const rows: Array<[number, string, string]> = [
    [0, '', 'ok'],
    [14, 'etcdserver: no leader', 'member_fault'],
    [14, 'etcdserver: request timed out', 'member_fault'],
    [4, 'deadline exceeded', 'member_fault'],
    [1, 'cancelled', 'member_fault'],
    [13, 'internal', 'member_fault'],
    [16, 'etcdserver: invalid auth token', 'token_invalid'],
    [3, 'etcdserver: invalid auth token', 'token_invalid'],
    [5, 'etcdserver: requested lease not found', 'refused'],
    [7, 'etcdserver: permission denied', 'refused'],
    [3, 'etcdserver: authentication failed, invalid user ID or password', 'refused'],
    [9, 'etcdserver: not leader', 'member_fault'],
    [3, 'etcdserver: revision of auth store is old', 'token_invalid'],
  ];
  for (const [code, message, verdict] of rows) assert.equal(judgeStatus({ code, message }), verdict, `${code} ${message}`);
});

test('CallHeaders: the first block must say :status 200; the gRPC status from either block, the last one kept', () => {
  const ok = new CallHeaders();
  assert.equal(ok.take({ ':status': '200', 'content-type': 'application/grpc' }), null);
  assert.equal(ok.status, null);
  assert.equal(ok.take({ 'grpc-status': '0' }), null, 'trailers carry no :status');
  assert.deepEqual(ok.status, { code: 0, message: '' });
  const trailersOnly = new CallHeaders();
  assert.equal(trailersOnly.take({ ':status': '200', 'grpc-status': '14', 'grpc-message': 'no%20leader' }), null);
  assert.deepEqual(trailersOnly.status, { code: 14, message: 'no leader' });
  const proxy = new CallHeaders();
  assert.equal(proxy.take({ ':status': '502' }), 'answered HTTP 502');
  assert.equal(proxy.take({ 'grpc-status': '0' }), null, 'said once');
  assert.equal(new CallHeaders().take({}), 'answered HTTP (no status)');
});
