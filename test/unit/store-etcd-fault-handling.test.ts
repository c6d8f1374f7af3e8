/**
 * The etcd client's fault handling counts transport failures only: an application answer (a lease
 * that ended, a permission error) neither opens a member's circuit breaker nor is retried, so the
 * next call (a lease renewal, a guarded write) still reaches etcd.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BrokenCircuitError } from 'cockatiel';
import { castGrpcError, EtcdPermissionDeniedError } from 'etcd3';
import { parseConfig } from '../../src/config/load.js';
import { etcdClientOptions } from '../../src/store/etcd/client.js';
import { etcdFaultHandling, isTransportFailure } from '../../src/store/etcd/fault-handling.js';

/** An error as grpc-js hands it to etcd3, cast the way etcd3 casts it. */
const grpcError = (code: number, message: string): Error => castGrpcError(Object.assign(new Error(`${code} ${message}`), { code }));
const unavailable = () => grpcError(14, 'UNAVAILABLE: No connection established');
const deadline = () => grpcError(4, 'DEADLINE_EXCEEDED: Deadline exceeded');
const noQuorum = () => grpcError(14, 'UNAVAILABLE: etcdserver: request timed out');
const leaseEnded = () => grpcError(5, 'NOT_FOUND: etcdserver: requested lease not found');

describe('isTransportFailure', () => {
  const rows: ReadonlyArray<[string, unknown, boolean]> = [
    ['unreachable member (UNAVAILABLE)', unavailable(), true],
    ['attempt deadline passed (DEADLINE_EXCEEDED)', deadline(), true],
    ['member without leader or quorum (UNAVAILABLE, etcdserver: request timed out)', noQuorum(), true],
    ['requested lease not found', leaseEnded(), false],
    ['NOT_FOUND', grpcError(5, 'NOT_FOUND: x'), false],
    ['INVALID_ARGUMENT', grpcError(3, 'INVALID_ARGUMENT: etcdserver: key is not provided'), false],
    ['permission denied', new EtcdPermissionDeniedError('etcdserver: permission denied'), false],
    ['a broken circuit (the breaker itself)', new BrokenCircuitError(), false],
    ['a plain error', new Error('boom'), false],
    ['not an error', 'UNAVAILABLE', false],
  ];
  for (const [name, err, expected] of rows) {
    it(`${name} → ${expected}`, () => assert.equal(isTransportFailure(err), expected));
  }
});

const settings = { attempts: 3, breakAfter: 3, halfOpenAfterMs: 60_000 };

/** Runs `fn` through the policy, returning its result or the error's constructor name. */
async function outcome(policy: { execute<T>(fn: () => Promise<T>): Promise<T> }, fn: () => Promise<string>): Promise<string> {
  try {
    return await policy.execute(fn);
  } catch (err) {
    return (err as Error).constructor.name;
  }
}

describe('etcdFaultHandling: the per-member breaker', () => {
  it('application answers, however many in a row, leave it closed: the next call goes through', async () => {
    const breaker = etcdFaultHandling(settings).host?.('http://e1:2379');
    assert.ok(breaker);
    for (let i = 0; i < 10; i++) assert.equal(await outcome(breaker, () => Promise.reject(leaseEnded())), 'EtcdLeaseInvalidError');
    assert.equal(await outcome(breaker, () => Promise.resolve('renewed')), 'renewed');
  });

  it('breakAfter transport failures in a row open it: the next call fails without running', async () => {
    const breaker = etcdFaultHandling(settings).host?.('http://e1:2379');
    assert.ok(breaker);
    assert.equal(await outcome(breaker, () => Promise.reject(unavailable())), 'GRPCUnavailableError');
    assert.equal(await outcome(breaker, () => Promise.reject(deadline())), 'GRPCDeadlineExceededError');
    assert.equal(await outcome(breaker, () => Promise.reject(noQuorum())), 'GRPCUnavailableError');
    let ran = false;
    assert.equal(await outcome(breaker, async () => ((ran = true), 'x')), 'BrokenCircuitError');
    assert.equal(ran, false);
  });

  it('an application answer between transport failures does not reset their count (the member answered, the count is of failures)', async () => {
    const breaker = etcdFaultHandling(settings).host?.('http://e1:2379');
    assert.ok(breaker);
    await outcome(breaker, () => Promise.reject(unavailable()));
    await outcome(breaker, () => Promise.reject(leaseEnded()));
    await outcome(breaker, () => Promise.reject(unavailable()));
    assert.equal(await outcome(breaker, () => Promise.resolve('ok')), 'ok', 'two transport failures: still closed');
  });
});

describe('etcdFaultHandling: the retry over members', () => {
  it('an application answer is not retried', async () => {
    const policy = etcdFaultHandling(settings).global;
    assert.ok(policy);
    let calls = 0;
    assert.equal(await outcome(policy, () => (calls++, Promise.reject(leaseEnded()))), 'EtcdLeaseInvalidError');
    assert.equal(calls, 1);
  });

  it('a transport failure is tried again, up to `attempts` calls in all', async () => {
    const policy = etcdFaultHandling(settings).global;
    assert.ok(policy);
    let calls = 0;
    assert.equal(await outcome(policy, () => (calls++, Promise.reject(unavailable()))), 'GRPCUnavailableError');
    assert.equal(calls, 3);
    calls = 0;
    assert.equal(await outcome(policy, () => (++calls < 2 ? Promise.reject(deadline()) : Promise.resolve('second member'))), 'second member');
  });
});

describe('etcdClientOptions: fault handling', () => {
  it('the client built from the configuration counts transport failures only (three in a row break a member)', async () => {
    const options = etcdClientOptions(parseConfig(JSON.stringify({ handyrep: { store: 'etcd' }, etcd: { endpoints: ['http://e1:2379'] } }), 'test'));
    const breaker = options.faultHandling?.host?.('http://e1:2379');
    const policy = options.faultHandling?.global;
    assert.ok(breaker && policy);
    for (let i = 0; i < 5; i++) await outcome(breaker, () => Promise.reject(leaseEnded()));
    assert.equal(await outcome(breaker, () => Promise.resolve('put')), 'put');
    let calls = 0;
    await outcome(policy, () => (calls++, Promise.reject(leaseEnded())));
    assert.equal(calls, 1, 'not retried');
    for (let i = 0; i < 3; i++) await outcome(breaker, () => Promise.reject(unavailable()));
    assert.equal(await outcome(breaker, () => Promise.resolve('put')), 'BrokenCircuitError');
  });
});
