import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { loadConfigFile } from '../../src/config/load.js';
import { resolveServer } from '../../src/config/merge.js';

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
