/**
 * The lean etcd client's protobuf messages (src/store/etcd/lean/messages.ts) against byte vectors
 * made with protobufjs from the etcd3 package's own rpc.proto (2026-12-05; the script encoded the
 * same objects with `Type.encode(Type.fromObject(…))`). Lease ids and revisions above 2^53 and a
 * negative TTL check that int64 never passes through Number.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeAuthenticate, decodeKeepAlive, decodeRange, decodeTxn, encodeAuthenticate, encodeKeepAlive, encodeRange, encodeTxnPutThenGet } from '../../src/store/etcd/lean/messages.js';
import { ProtoReader, ProtoWriter } from '../../src/store/etcd/lean/proto.js';

const hex = (h: string): Buffer => Buffer.from(h, 'hex');
const LEASE = '7587869315937226497';

test('LeaseKeepAliveRequest: the lease id as protobufjs encodes it', () => {
  assert.equal(encodeKeepAlive(LEASE).toString('hex'), '08819e99d48cdee1a669');
});

test('LeaseKeepAliveResponse: id and TTL read past a full header, revision above 2^53', () => {
  const reply = decodeKeepAlive(hex('0a2108b298eaf1948386fccd0110cdd2918bd2b881cf8e01188180808080808010200510819e99d48cdee1a6691805'));
  assert.deepEqual(reply, { id: LEASE, ttl: '5' });
});

test('LeaseKeepAliveResponse: TTL -1 (the lease is gone) stays negative', () => {
  assert.deepEqual(decodeKeepAlive(hex('0a02180c10819e99d48cdee1a66918ffffffffffffffffff01')), { id: LEASE, ttl: '-1' });
});

test('LeaseKeepAliveResponse: absent fields are zero (proto3 defaults)', () => {
  assert.deepEqual(decodeKeepAlive(Buffer.alloc(0)), { id: '0', ttl: '0' });
});

test('TxnRequest: put under a lease, then range of one key, byte for byte as protobufjs', () => {
  const request = encodeTxnPutThenGet(Buffer.from('/handyrep/c/members/john'), Buffer.from('{"name":"john"}'), LEASE, Buffer.from('/handyrep/c/master'));
  assert.equal(
    request.toString('hex'),
    '123712350a182f68616e64797265702f632f6d656d626572732f6a6f686e120f7b226e616d65223a226a6f686e227d18819e99d48cdee1a66912160a140a122f68616e64797265702f632f6d6173746572',
  );
});

test("TxnRequest: a replica's write also ranges over its master's record (a second range), byte for byte as protobufjs", () => {
  const request = encodeTxnPutThenGet(Buffer.from('/handyrep/c/members/paul'), Buffer.from('{"name":"paul"}'), LEASE, Buffer.from('/handyrep/c/master'), Buffer.from('/handyrep/c/members/john'));
  assert.equal(
    request.toString('hex'),
    '123712350a182f68616e64797265702f632f6d656d626572732f7061756c120f7b226e616d65223a227061756c227d18819e99d48cdee1a66912160a140a122f68616e64797265702f632f6d6173746572121c0a1a0a182f68616e64797265702f632f6d656d626572732f6a6f686e',
  );
});

test('TxnResponse: revision, succeeded, the put and the range with its key-value (int64 above 2^53)', () => {
  const reply = decodeTxn(
    hex('0a0f08011002188180808080808010200310011a0d120b0a091881808080808080101a450a430a0918818080808080801012340a122f68616e64797265702f632f6d6173746572100418feffffffffffff0f20022a0f7b226e616d65223a226a6f686e227d30002001'),
  );
  assert.equal(reply.revision, '9007199254740993');
  assert.equal(reply.succeeded, true);
  assert.equal(reply.responses.length, 2);
  assert.deepEqual(reply.responses[0], { kind: 'put' });
  const range = reply.responses[1];
  assert.ok(range?.kind === 'range');
  assert.equal(range.kvs.length, 1);
  const kv = range.kvs[0];
  assert.equal(kv?.key.toString(), '/handyrep/c/master');
  assert.equal(kv?.value.toString(), '{"name":"john"}');
  assert.equal(kv?.mod_revision, '9007199254740990');
  assert.equal(kv?.create_revision, '4');
  assert.equal(kv?.version, '2');
  assert.equal(kv?.lease, '0');
});

test('TxnResponse: a range that found nothing has no key-values', () => {
  const reply = decodeTxn(hex('0a02184d10011a0612040a02184d1a060a040a02184d'));
  assert.deepEqual(reply, { revision: '77', succeeded: true, responses: [{ kind: 'put' }, { kind: 'range', kvs: [] }] });
});

test('TxnResponse: succeeded absent is false', () => {
  assert.equal(decodeTxn(hex('0a02184d')).succeeded, false);
});

test('RangeRequest: one key, linearizable (no other field), byte for byte as protobufjs', () => {
  assert.equal(encodeRange(Buffer.from('/handyrep/c/members/john')).toString('hex'), '0a182f68616e64797265702f632f6d656d626572732f6a6f686e');
});

test('RangeResponse: revision past a full header and the key-value (int64 above 2^53, lease id too)', () => {
  const reply = decodeRange(
    hex('0a0f08011002188180808080808010200312420a182f68616e64797265702f632f6d656d626572732f6a6f686e100418feffffffffffff0f20022a0f7b226e616d65223a226a6f686e227d30d2edd2c69dd5e1a6692001'),
  );
  assert.equal(reply.revision, '9007199254740993');
  assert.equal(reply.kvs.length, 1);
  const kv = reply.kvs[0];
  assert.equal(kv?.key.toString(), '/handyrep/c/members/john');
  assert.equal(kv?.value.toString(), '{"name":"john"}');
  assert.equal(kv?.mod_revision, '9007199254740990');
  assert.equal(kv?.lease, '7587869011234567890');
});

test('RangeResponse: a key that is absent has no key-values (count 0 left out)', () => {
  assert.deepEqual(decodeRange(hex('0a02184d')), { revision: '77', kvs: [] });
});

test('AuthenticateRequest and AuthenticateResponse (UTF-8 password, token past the header)', () => {
  assert.equal(encodeAuthenticate('handyrep', 'pässwörd').toString('hex'), '0a0868616e6479726570120a70c3a4737377c3b67264');
  assert.equal(decodeAuthenticate(hex('0a02180312096162634445462e3432')), 'abcDEF.42');
});

test('ProtoWriter/ProtoReader: int64 extremes round-trip as strings', () => {
  for (const value of ['1', '9223372036854775807', '-9223372036854775808', '-1', '9007199254740993']) {
    const reader = new ProtoReader(new ProtoWriter().varint(1, value).finish());
    assert.equal(reader.tag(), 8);
    assert.equal(reader.int64(), value);
    assert.ok(reader.done);
  }
});

test('ProtoReader: unknown fields of every wire type are skipped', () => {
  // field 9 fixed64, field 10 fixed32, field 11 bytes, then field 3 varint TTL 5
  const buf = Buffer.concat([hex('49'), Buffer.alloc(8, 1), hex('55'), Buffer.alloc(4, 2), hex('5a03616263'), hex('1805')]);
  assert.deepEqual(decodeKeepAlive(buf), { id: '0', ttl: '5' });
});

test('ProtoReader: truncated input is an error, not a wrong value', () => {
  assert.throws(() => decodeKeepAlive(hex('10819e')), /truncated varint/);
  assert.throws(() => decodeTxn(hex('1a0512')), /truncated length-delimited/);
  assert.throws(() => decodeKeepAlive(hex('0f')), /unsupported wire type 7/);
  assert.throws(() => decodeKeepAlive(hex('00')), /invalid tag 0/);
  assert.throws(() => decodeKeepAlive(hex('8880808080808080800100')), /invalid tag/);
});
