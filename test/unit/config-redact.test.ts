import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../src/config/load.js';
import { isPasswordPath, REDACTED, redactConfig } from '../../src/config/redact.js';

const config = parseConfig(`
passwords: {superuser_pass: hunter2, replication_pass: "", bind_password: s3cret, etcd_password: etcd-pw-7f3a}
handyrep: {cluster_name: beatles}
servers: {john: {hostname: 127.0.0.11, role: master}}
`, 's');

test('redactConfig replaces every non-empty password, keeps empty ones empty', () => {
  const redacted = redactConfig(config);
  assert.deepEqual(redacted.passwords, {
    superuser_pass: REDACTED, admin_password: '', read_password: '', handyrep_db_pass: '', replication_pass: '', bind_password: REDACTED, etcd_password: REDACTED,
  });
  for (const secret of ['hunter2', 's3cret', 'etcd-pw-7f3a']) assert.ok(!JSON.stringify(redacted).includes(secret), secret);
});

test('redactConfig copies everything else and leaves the original alone', () => {
  const redacted = redactConfig(config);
  const { passwords: _a, ...rest } = redacted;
  const { passwords: _b, ...original } = config;
  assert.deepEqual(rest, original);
  assert.notEqual(redacted.servers, config.servers);
  assert.equal(config.passwords.superuser_pass, 'hunter2');
  assert.ok(!Object.isFrozen(redacted.servers));
});

test('isPasswordPath: the passwords section and everything in it', () => {
  assert.ok(isPasswordPath(['passwords']));
  assert.ok(isPasswordPath(['passwords', 'superuser_pass']));
  assert.ok(!isPasswordPath(['handyrep', 'passwords']));
  assert.ok(!isPasswordPath([]));
});
