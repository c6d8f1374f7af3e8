/**
 * The etcd client options made from the configuration (one place): endpoints, call deadline,
 * TLS files (an unreadable one named), user and password; and the deadline wrapper that turns a
 * silent etcd into STORE_UNREACHABLE instead of a hang.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfig } from '../../src/config/load.js';
import { HandyRepError } from '../../src/model/errors.js';
import { createEtcdContext, etcdClientOptions } from '../../src/store/etcd/client.js';
import { storeError, withDeadline } from '../../src/store/etcd/store-error.js';

const config = (etcd: Record<string, unknown>, passwords: Record<string, string> = {}) =>
  parseConfig(JSON.stringify({ handyrep: { store: 'etcd', cluster_name: 'main' }, etcd, passwords }), 'test');

const files: Record<string, string> = { '/etc/etcd/ca.pem': 'CA', '/etc/etcd/c.pem': 'CERT', '/etc/etcd/c.key': 'KEY' };
const readFake = (path: string): Buffer => {
  const content = files[path];
  if (content === undefined) throw new Error(`ENOENT: no such file or directory, open '${path}'`);
  return Buffer.from(content);
};

describe('etcdClientOptions', () => {
  it('plain: endpoints; a third of retry_timeout per attempt (dial and unary calls; streams none)', () => {
    const options = etcdClientOptions(config({ endpoints: ['http://10.0.0.1:2379', 'http://10.0.0.2:2379'], retry_timeout: 3 }), readFake);
    assert.deepEqual(options.hosts, ['http://10.0.0.1:2379', 'http://10.0.0.2:2379']);
    assert.equal(options.dialTimeout, 1000);
    assert.equal(options.credentials, undefined);
    assert.equal(options.auth, undefined);
    const factory = options.defaultCallOptions;
    assert.equal(typeof factory, 'function');
    if (typeof factory !== 'function') return;
    const unary = factory({ service: 'KV', method: 'range', isStream: false, params: {} });
    const deadline = Number(unary.deadline);
    assert.ok(deadline > Date.now() + 800 && deadline <= Date.now() + 1000, `deadline ${deadline - Date.now()} ms ahead`);
    assert.deepEqual(factory({ service: 'Watch', method: 'watch', isStream: true }), {});
  });

  it('TLS: CA, certificate and key are read from their files', () => {
    const options = etcdClientOptions(
      config({ endpoints: ['https://e:2379'], ca: '/etc/etcd/ca.pem', cert: '/etc/etcd/c.pem', key: '/etc/etcd/c.key' }),
      readFake,
    );
    assert.deepEqual(
      { ca: options.credentials?.rootCertificate.toString(), cert: options.credentials?.certChain?.toString(), key: options.credentials?.privateKey?.toString() },
      { ca: 'CA', cert: 'CERT', key: 'KEY' },
    );
  });

  it('an unreadable TLS file is an error naming the setting and the file', () => {
    assert.throws(
      () => etcdClientOptions(config({ endpoints: ['https://e:2379'], ca: '/etc/etcd/missing.pem' }), readFake),
      (err: unknown) => err instanceof HandyRepError && err.code === 'CONFIG_INVALID' && /^etcd\.ca: cannot read \/etc\/etcd\/missing\.pem: ENOENT/.test(err.message),
    );
  });

  it('user and password (from passwords.etcd_password)', () => {
    const options = etcdClientOptions(config({ endpoints: ['http://e:2379'], user: 'handyrep' }, { etcd_password: 'pw-1' }), readFake);
    assert.deepEqual(options.auth, { username: 'handyrep', password: 'pw-1' });
  });

  it('no endpoints: an error naming etcd.endpoints', () => {
    assert.throws(() => etcdClientOptions(parseConfig('{}', 't'), readFake), /etcd\.endpoints: list the etcd endpoints/);
  });

  it('the key prefix defaults to /handyrep/<cluster_name>/; an explicit one wins', () => {
    const byDefault = createEtcdContext(config({ endpoints: ['http://127.0.0.1:1'] }));
    const explicit = createEtcdContext(config({ endpoints: ['http://127.0.0.1:1'], prefix: '/x/y/', ttl: 4, retry_timeout: 0.5 }));
    try {
      assert.equal(byDefault.keys.leader, '/handyrep/main/leader');
      assert.equal(explicit.keys.leader, '/x/y/leader');
      assert.equal(explicit.ttlSeconds, 4);
      assert.equal(explicit.deadlineMs, 500);
    } finally {
      byDefault.close();
      explicit.close();
    }
  });
});

describe('withDeadline', () => {
  it('a call that never answers fails with STORE_UNREACHABLE at the deadline', async () => {
    const started = Date.now();
    await assert.rejects(
      withDeadline('read the journal', 100, () => new Promise(() => undefined)),
      (err: unknown) => err instanceof HandyRepError && err.code === 'STORE_UNREACHABLE' && /did not answer within 100 ms \(read the journal\)/.test(err.message),
    );
    const took = Date.now() - started;
    assert.ok(took >= 95 && took < 1000, `took ${took} ms`);
  });
  it('a client error becomes STORE_UNREACHABLE naming the call; coded errors pass through', async () => {
    await assert.rejects(
      withDeadline('grant the leader lease', 1000, () => Promise.reject(new TypeError('connection refused'))),
      (err: unknown) => err instanceof HandyRepError && err.code === 'STORE_UNREACHABLE' && /grant the leader lease\): unreachable, without quorum or refusing: TypeError: connection refused/.test(err.message),
    );
    const notLeader = new HandyRepError('NOT_LEADER', 'x');
    assert.equal(storeError('w', notLeader), notLeader);
  });
  it('an answer in time is returned', async () => {
    assert.equal(await withDeadline('w', 1000, () => Promise.resolve(5)), 5);
  });
});

describe('createEtcdContext against nothing', () => {
  it('a call to an endpoint where nothing listens fails within the deadline, no hang', async () => {
    const ctx = createEtcdContext(config({ endpoints: ['http://127.0.0.1:9'], retry_timeout: 0.5 }));
    try {
      const started = Date.now();
      await assert.rejects(
        withDeadline('read the leader key', ctx.deadlineMs, () => ctx.client.kv.range({ key: Buffer.from(ctx.keys.leader) })),
        (err: unknown) => err instanceof HandyRepError && err.code === 'STORE_UNREACHABLE',
      );
      assert.ok(Date.now() - started <= 700, `took ${Date.now() - started} ms`);
    } finally {
      ctx.close();
    }
  });
});
