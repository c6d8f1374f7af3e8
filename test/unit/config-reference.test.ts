import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describeExpected } from '../../src/config/describe-type.js';
import { configJsonSchema, schemaAt } from '../../src/config/json-schema.js';
import { renderConfigReference } from '../../src/config/reference.js';
import { configSchema, SERVER_SETTING_KEYS } from '../../src/config/schema.js';

test('docs/configuration.md is what the schema generates', () => {
  const committed = readFileSync(new URL('../../docs/configuration.md', import.meta.url), 'utf8');
  assert.equal(committed, renderConfigReference(), 'docs/configuration.md is out of date: run npm run gen:config-reference');
});

test('the reference has a row for every key of every section', () => {
  const doc = renderConfigReference();
  const defaults = configSchema.parse({});
  for (const section of ['handyrep', 'passwords', 'failover', 'archive', 'server_defaults'] as const) {
    for (const key of Object.keys(defaults[section])) assert.ok(doc.includes(`| \`${key}\` |`), `${section}.${key}`);
  }
  for (const key of SERVER_SETTING_KEYS) assert.ok(doc.includes(`\`server_defaults.${key}\``), key);
  for (const key of ['hostname', 'role', 'enabled', 'command', 'parameters']) assert.ok(doc.includes(`| \`${key}\` |`), key);
});

test('type phrases come from the schema', () => {
  const root = configJsonSchema();
  const phrase = (...path: string[]): string => describeExpected(schemaAt(root, path));
  assert.equal(phrase('server_defaults', 'port'), 'an integer from 1 to 65535');
  assert.equal(phrase('servers', 'any', 'hostname'), 'a hostname or IP address');
  assert.equal(phrase('failover', 'poll_interval'), 'a number greater than 0');
  assert.equal(phrase('handyrep', 'plugin_dirs'), 'a list of paths');
  assert.equal(phrase('handyrep', 'push_alert_method'), 'a name or null');
  assert.equal(phrase('handyrep', 'ssh_host_key_checking'), 'one of "strict", "accept-new", "off"');
});
