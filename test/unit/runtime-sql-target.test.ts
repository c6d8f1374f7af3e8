/** HandyRep's connection to a server takes that server's TLS settings and the configured password methods. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { configSchema } from '../../src/config/schema.js';
import { sqlTargetFor } from '../../src/runtime/plugin-context.js';

const timeouts = { connectMs: 1000, statementMs: 2000 };

test('defaults: sslmode prefer, no certificates, SCRAM only', () => {
  const config = configSchema.parse({});
  const target = sqlTargetFor(config, { hostname: 'db1', port: 5432 }, timeouts);
  assert.deepEqual(target.tls, { mode: 'prefer', rootcert: null, cert: null, key: null });
  assert.deepEqual(target.allowedPasswordMethods, ['scram-sha-256']);
});

test('per-server settings win over server_defaults; allowed methods come from handyrep', () => {
  const config = configSchema.parse({
    handyrep: { allowed_password_methods: ['scram-sha-256', 'md5'] },
    server_defaults: { sslmode: 'verify-full', sslrootcert: '/etc/handyrep/ca.crt' },
  });
  const server = { hostname: 'db2', port: 5433, sslmode: 'verify-ca' as const, sslrootcert: '/etc/handyrep/other-ca.crt', sslcert: '/etc/handyrep/c.crt', sslkey: '/etc/handyrep/c.key' };
  assert.deepEqual(sqlTargetFor(config, server, timeouts).tls, { mode: 'verify-ca', rootcert: '/etc/handyrep/other-ca.crt', cert: '/etc/handyrep/c.crt', key: '/etc/handyrep/c.key' });
  assert.deepEqual(sqlTargetFor(config, { hostname: 'db3', port: 5432 }, timeouts).tls, { mode: 'verify-full', rootcert: '/etc/handyrep/ca.crt', cert: null, key: null });
  assert.deepEqual(sqlTargetFor(config, server, timeouts).allowedPasswordMethods, ['scram-sha-256', 'md5']);
});

test('bad TLS settings are refused by the schema, naming the key', () => {
  const bad: ReadonlyArray<[unknown, string]> = [
    [{ server_defaults: { sslmode: 'allow-ish' } }, 'server_defaults.sslmode'],
    [{ server_defaults: { sslrootcert: 'relative/ca.crt' } }, 'server_defaults.sslrootcert'],
    [{ handyrep: { allowed_password_methods: [] } }, 'handyrep.allowed_password_methods'],
    [{ handyrep: { allowed_password_methods: ['trust'] } }, 'handyrep.allowed_password_methods.0'],
  ];
  for (const [input, path] of bad) {
    const result = configSchema.safeParse(input);
    assert.equal(result.success, false, path);
    assert.ok(result.error?.issues.some((i) => i.path.join('.') === path), `${path}: ${JSON.stringify(result.error?.issues)}`);
  }
});
