/**
 * The security marks of the schema (setting-marks.ts) and what reads them: the web guard
 * (configuration-file-only server settings, local-only parameters), redaction of every secret
 * setting, log and reply masking, and the plugin-kind check of every plugin-name setting.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { findOperation, type OperationSpec } from '../../src/api/operations.js';
import { guardWebCall } from '../../src/api/web-guard.js';
import { getSetting } from '../../src/config/get-setting.js';
import { parseConfig } from '../../src/config/load.js';
import { configOnlyServerSettings, pluginNameSettings } from '../../src/config/marked-settings.js';
import { isSecretPath, maskDeep, REDACTED, redactConfig, secretStrings } from '../../src/config/redact.js';
import { HandyRepError } from '../../src/model/errors.js';
import { PluginRegistry } from '../../src/plugins/registry.js';
import { REQUIRED_METHOD } from '../../src/plugins/types.js';

const SECRETS = {
  header: 'Bearer hdr-6f1c2a9e77d04b1b',
  urlPassword: 'urlpw-93be0c1f5a',
  webhookPath: '/services/T000/B000/hookpath-5d2e8c',
  argKey: 'argkey-0d9a7e3c55b1',
  smtp: 'smtp-pass-1b2c3d4e',
};

const config = parseConfig(`
passwords: {superuser_pass: hunter2, smtp_pass: ${SECRETS.smtp}}
extra_failover_commands:
  notify: {command: local_command, parameters: [curl, -H, "X-Api-Key: ${SECRETS.argKey}", "https://ops:${SECRETS.urlPassword}@pager.example/x"]}
plugins:
  push_alert_webhook: {url: "https://hooks.example.com${SECRETS.webhookPath}", headers: {Authorization: "${SECRETS.header}"}, timeout_seconds: 5}
servers: {john: {hostname: 127.0.0.11, role: master}}
`, 's');

const all = Object.values(SECRETS).concat('hunter2');

test('the schema marks what runs where as configuration file only (server settings)', () => {
  assert.deepEqual([...configOnlyServerSettings()].sort(), [
    'clone_method', 'control_method', 'local_user', 'pg_bin_dir', 'promotion_method', 'restart_method', 'ssh_key', 'ssh_user',
  ]);
});

test('every plugin-name setting is marked with its kind, server overrides included', () => {
  const marks = new Map(pluginNameSettings().map((m) => [m.pattern.join('.'), m.mark]));
  assert.equal(marks.get('failover.selection_method'), 'select');
  assert.equal(marks.get('servers.*.restart_method'), 'restart');
  assert.equal(marks.get('extra_failover_commands.*.command'), 'command');
  assert.equal(marks.get('handyrep.push_alert_method'), 'alert');
  assert.equal(marks.get('archive.archive_delete_method'), 'archive_delete');
  for (const [path, kind] of marks) assert.ok(Object.hasOwn(REQUIRED_METHOD, kind), `${path}: ${kind} is not a plugin kind`);
});

test('redactConfig hides every secret: passwords, commands\' parameters, plugin headers and URLs', () => {
  const text = JSON.stringify(redactConfig(config));
  for (const s of all) assert.ok(!text.includes(s), `redacted copy holds ${s}`);
  const webhook = redactConfig(config).plugins['push_alert_webhook'] as Record<string, unknown>;
  assert.equal(webhook['url'], `https://hooks.example.com/${REDACTED}`, 'a URL keeps its scheme and host');
  assert.equal(webhook['timeout_seconds'], 5, 'what is not secret stays');
  assert.equal(redactConfig(config).extra_failover_commands['notify']?.command, 'local_command');
});

test('get_setting returns other secrets redacted (passwords stay refused)', () => {
  for (const path of [['plugins'], ['plugins', 'push_alert_webhook'], ['extra_failover_commands'], ['extra_failover_commands', 'notify', 'parameters']]) {
    const result = getSetting(config, path);
    assert.equal(result.kind, 'found', path.join('.'));
    const text = JSON.stringify(result);
    for (const s of all) assert.ok(!text.includes(s), `${path.join('.')} shows ${s}`);
  }
  assert.equal(getSetting(config, ['passwords', 'smtp_pass']).kind, 'refused');
});

test('isSecretPath: marked settings and, in plugin settings, keys by name; ssh_key (a path) is not secret', () => {
  assert.ok(isSecretPath(['passwords', 'anything']));
  assert.ok(isSecretPath(['extra_failover_commands', 'x', 'parameters', 0]));
  assert.ok(isSecretPath(['plugins', 'push_alert_webhook', 'headers', 'Authorization']));
  assert.ok(isSecretPath(['plugins', 'any_plugin', 'api_token']));
  assert.ok(!isSecretPath(['plugins', 'push_alert_webhook', 'timeout_seconds']));
  assert.ok(!isSecretPath(['server_defaults', 'ssh_key']));
  assert.ok(!isSecretPath(['daemon', 'tls_key']));
});

test('secretStrings masks whole secrets and the pieces a message may quote', () => {
  const masked = maskDeep({ a: `POST failed: ${SECRETS.header}`, b: [`password ${SECRETS.urlPassword} rejected`, `GET ${SECRETS.webhookPath}`], c: 3 }, secretStrings(config));
  const text = JSON.stringify(masked);
  for (const s of all) assert.ok(!text.includes(s), `masked text holds ${s}`);
  assert.equal(masked.c, 3);
  // textOnly (saved state): names, hostnames and paths stay even when a weak password equals one; keys always stay.
  const weak = ['paul', 'hunter2'];
  assert.deepEqual(maskDeep({ paul: { hostname: 'paul', status_message: 'paul said hunter2' } }, weak, true), { paul: { hostname: 'paul', status_message: '******** said ********' } });
  // Short, common arguments of a command are not masked in texts (curl, -H).
  assert.ok(!secretStrings(config).includes('curl') && !secretStrings(config).includes('-H'));
});

function forbiddenKey(spec: OperationSpec, params: Record<string, unknown>): string | null {
  try {
    guardWebCall(spec, params);
    return null;
  } catch (err) {
    assert.ok(err instanceof HandyRepError && err.code === 'FORBIDDEN', String(err));
    return (err as unknown as { parameter: string }).parameter;
  }
}

test('web guard: reload_conf with config_file is forbidden, without it allowed', () => {
  const spec = findOperation('reload_conf') as OperationSpec;
  assert.equal(forbiddenKey(spec, { config_file: '/tmp/evil.yaml' }), 'config_file');
  assert.equal(forbiddenKey(spec, { config_file: null }), null);
});

test('web guard: add_server, alter_server_def and validate_server_settings refuse each configuration-file-only setting by name', () => {
  for (const [name, param] of [['add_server', 'serverprops'], ['alter_server_def', 'serverprops'], ['validate_server_settings', 'serverdict']] as const) {
    const spec = findOperation(name) as OperationSpec;
    for (const key of configOnlyServerSettings()) {
      assert.equal(forbiddenKey(spec, { servername: 'x', [param]: { hostname: '127.0.0.99', [key]: 'v' } }), key, `${name} ${key}`);
    }
    assert.equal(forbiddenKey(spec, { servername: 'x', [param]: { hostname: '127.0.0.99', port: 5433, pgdata: '/d', failover_priority: 2 } }), null);
  }
  assert.equal(forbiddenKey(findOperation('restart') as OperationSpec, { servername: 'x' }), null);
});

test('plugin names are checked against the registry and their kind, in the file and in server settings', () => {
  const registry = new PluginRegistry();
  const wrongKind = parseConfig('failover: {selection_method: restart_pg_ctl}\nservers: {john: {hostname: 127.0.0.11, role: master, clone_method: promote_sql}}', 's');
  assert.throws(() => registry.checkConfigured(wrongKind), (err: Error) =>
    /failover\.selection_method: plugin "restart_pg_ctl" is a restart plugin, not a select plugin/.test(err.message) &&
    /servers\.john\.clone_method: plugin "promote_sql" is a promote plugin, not a clone plugin/.test(err.message));
  assert.deepEqual(registry.serverSettingProblems({ restart_method: 'select_replica_priority', port: 5 }), [
    'restart_method: plugin "select_replica_priority" is a select plugin, not a restart plugin',
  ]);
  assert.deepEqual(registry.serverSettingProblems({ promotion_method: 'nope' }), ['promotion_method: no plugin named "nope" (wanted a promote plugin)']);
  assert.deepEqual(registry.serverSettingProblems({ restart_method: 'restart_systemd', clone_method: 'clone_rsync' }), []);
});
