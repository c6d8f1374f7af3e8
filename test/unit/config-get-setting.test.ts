import { test } from 'node:test';
import assert from 'node:assert/strict';
import { getSetting } from '../../src/config/get-setting.js';
import { parseConfig } from '../../src/config/load.js';

const config = parseConfig(`
passwords: {superuser_pass: hunter2}
handyrep: {cluster_name: beatles, plugin_dirs: [plugins]}
servers: {john: {hostname: 127.0.0.11, role: master, port: 5433}}
`, 's');

test('a string is a key of the handyrep section', () => {
  assert.deepEqual(getSetting(config, 'cluster_name'), { kind: 'found', path: ['handyrep', 'cluster_name'], value: 'beatles' });
});

test('a list is the full path', () => {
  assert.equal(value(getSetting(config, ['failover', 'poll_interval'])), 10);
  assert.equal(value(getSetting(config, ['servers', 'john', 'port'])), 5433);
  assert.equal(value(getSetting(config, ['handyrep', 'plugin_dirs', '0'])), 'plugins');
  assert.equal(value(getSetting(config, ['server_defaults', 'pgconf'])), null);
});

test('anything in passwords is refused, and the result holds no password', () => {
  for (const path of [['passwords'], ['passwords', 'superuser_pass'], ['passwords', 'nope']]) {
    const result = getSetting(config, path);
    assert.equal(result.kind, 'refused');
    assert.ok(!('value' in result));
    assert.ok(!JSON.stringify(result).includes('hunter2'));
  }
});

test('unknown paths are not found, prototype keys included', () => {
  for (const path of [['nope'], ['handyrep', 'nope'], ['servers', 'ringo', 'port'], ['handyrep', 'cluster_name', 'length'],
    ['handyrep', '__proto__'], ['handyrep', 'constructor'], ['handyrep', 'toString'], ['handyrep', 'plugin_dirs', 'length'],
    ['handyrep', 'plugin_dirs', '1'], ['handyrep', 'plugin_dirs', '00'], [], ['handyrep', '']]) {
    const result = getSetting(config, path);
    assert.equal(result.kind, 'not_found', JSON.stringify(path));
  }
  assert.equal(getSetting(config, 'nope').kind, 'not_found');
  assert.equal(getSetting(config, '').kind, 'not_found');
});

function value(result: ReturnType<typeof getSetting>): unknown {
  assert.equal(result.kind, 'found');
  return result.kind === 'found' ? result.value : undefined;
}
