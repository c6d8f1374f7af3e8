import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deepFreeze } from '../../src/config/deep-freeze.js';
import { parseConfig } from '../../src/config/load.js';
import { resolvePath, resolveServer, SERVER_BUILT_INS } from '../../src/config/merge.js';
import { configSchema } from '../../src/config/schema.js';

const defaults = deepFreeze(configSchema.parse({}).server_defaults);

test('server_defaults fill what the entry does not set; the entry wins where it does', () => {
  const resolved = resolveServer(defaults, deepFreeze({ hostname: 'paul', role: 'replica', enabled: true, port: 5433, pgconf: null }));
  assert.equal(resolved.port, 5433);
  assert.equal(resolved.hostname, 'paul');
  assert.equal(resolved.pgdata, defaults.pgdata);
  assert.equal(resolved.ssh_user, defaults.ssh_user);
  assert.equal(resolved.failover_priority, 999);
});

test('built-ins come first: a server added without role or enabled is a disabled replica', () => {
  const resolved = resolveServer(defaults, { hostname: 'ringo' });
  assert.equal(resolved.role, SERVER_BUILT_INS.role);
  assert.equal(resolved.enabled, false);
});

test('runtime changes override the entry, in order; undefined never overrides, null does', () => {
  const custom = deepFreeze({ ...defaults, pgconf: '/etc/postgresql/15/main', lag_limit: 50 });
  const resolved = resolveServer(
    custom,
    { hostname: 'george', role: 'replica', enabled: true, lag_limit: 500 },
    { lag_limit: 700, port: undefined },
    { enabled: false, pgconf: null },
  );
  assert.equal(resolved.lag_limit, 700);
  assert.equal(resolved.port, 5432);
  assert.equal(resolved.enabled, false);
  assert.equal(resolved.pgconf, null);
});

test('keys that are not server settings (status, facts) are not carried over', () => {
  const entry = { hostname: 'paul', status: 'healthy', lag_bytes: 10 } as { hostname: string };
  const resolved = resolveServer(defaults, entry);
  assert.ok(!('status' in resolved) && !('lag_bytes' in resolved));
});

test('a parsed config resolves each server from server_defaults and its entry', () => {
  const config = parseConfig(`
server_defaults: {port: 5440, lag_limit: 10}
servers:
  john: {hostname: 127.0.0.11, role: master}
  george: {hostname: 127.0.0.13, lag_limit: 500}
`, 's');
  const george = config.servers.george;
  const john = config.servers.john;
  assert.ok(george && john);
  assert.deepEqual([resolveServer(config.server_defaults, george).lag_limit, resolveServer(config.server_defaults, george).port], [500, 5440]);
  assert.deepEqual([resolveServer(config.server_defaults, john).role, resolveServer(config.server_defaults, john).enabled], ['master', true]);
});

test('resolvePath: ~ is home, relative is the config folder, absolute stays', () => {
  assert.equal(resolvePath('/etc/handyrep', '~', '/home/hr'), '/home/hr');
  assert.equal(resolvePath('/etc/handyrep', '~/.ssh/id_ed25519', '/home/hr'), '/home/hr/.ssh/id_ed25519');
  assert.equal(resolvePath('/etc/handyrep', 'servers.save', '/home/hr'), '/etc/handyrep/servers.save');
  assert.equal(resolvePath('/etc/handyrep', '../state/servers.save', '/home/hr'), '/etc/state/servers.save');
  assert.equal(resolvePath('/etc/handyrep', '/var/lib/handyrep/servers.save', '/home/hr'), '/var/lib/handyrep/servers.save');
  assert.equal(resolvePath('/etc/handyrep', '~user/x', '/home/hr'), '/etc/handyrep/~user/x');
});
