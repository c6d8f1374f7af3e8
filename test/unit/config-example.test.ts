import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { loadConfigFile } from '../../src/config/load.js';
import { resolveServer } from '../../src/config/merge.js';
import { PluginRegistry } from '../../src/plugins/registry.js';

test('handyrep.example.yaml is valid: john master, paul and george replicas', () => {
  const { config } = loadConfigFile(fileURLToPath(new URL('../../handyrep.example.yaml', import.meta.url)));
  const servers = Object.entries(config.servers).map(([name, entry]) => [name, entry.hostname, entry.role, entry.enabled]);
  assert.deepEqual(servers, [
    ['john', '127.0.0.11', 'master', true],
    ['paul', '127.0.0.12', 'replica', true],
    ['george', '127.0.0.13', 'replica', true],
  ]);
  const george = config.servers.george;
  assert.ok(george);
  assert.equal(resolveServer(config.server_defaults, george).lag_limit, 500);
});

test('handyrep.example.yaml uses passwords: simple_password_auth, and it refuses to run until admin_password is set', () => {
  const { config } = loadConfigFile(fileURLToPath(new URL('../../handyrep.example.yaml', import.meta.url)));
  assert.equal(config.handyrep.authentication_method, 'simple_password_auth');
  assert.equal(config.daemon.allow_unauthenticated, false);
  assert.throws(() => new PluginRegistry().checkConfigured(config), /admin_password/);
});
