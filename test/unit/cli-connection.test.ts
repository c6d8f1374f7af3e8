/** Where the CLI finds the daemon: flags, then environment, then the client configuration file. */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CliError } from '../../src/cli/cli-error.js';
import { DEFAULT_URL, defaultClientConfigPath, resolveClientSettings } from '../../src/cli/connection.js';
import { EXIT } from '../../src/cli/exit-codes.js';

const dir = mkdtempSync(join(tmpdir(), 'handyrep-cli-conn-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string, mode = 0o600): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  chmodSync(path, mode);
  return path;
}

test('defaults: http://127.0.0.1:8080, user handyrep, no password; the default file lives under XDG_CONFIG_HOME or ~/.config', () => {
  const none = resolveClientSettings({}, { HOME: join(dir, 'nohome') });
  assert.deepEqual(none, { url: DEFAULT_URL, user: 'handyrep', password: null, configFile: null, warnings: [] });
  assert.equal(defaultClientConfigPath({ HOME: '/home/ann' }), '/home/ann/.config/handyrep/client.yaml');
  assert.equal(defaultClientConfigPath({ HOME: '/home/ann', XDG_CONFIG_HOME: '/cfg' }), '/cfg/handyrep/client.yaml');
});

test('each setting from the first place that has it: flag, environment, file', () => {
  const home = join(dir, 'home');
  mkdirSync(join(home, '.config', 'handyrep'), { recursive: true });
  writeFileSync(join(home, '.config', 'handyrep', 'client.yaml'), 'url: http://10.0.0.9:8080/\nuser: ops\npassword: from-file\n', { mode: 0o600 });
  const fromFile = resolveClientSettings({}, { HOME: home });
  assert.equal(fromFile.url, 'http://10.0.0.9:8080', 'trailing slash dropped');
  assert.equal(fromFile.user, 'ops');
  assert.equal(fromFile.password, 'from-file');
  assert.equal(fromFile.configFile, join(home, '.config', 'handyrep', 'client.yaml'));
  const fromEnv = resolveClientSettings({}, { HOME: home, HANDYREP_URL: 'https://ctl:8443', HANDYREP_PASSWORD: 'from-env' });
  assert.deepEqual([fromEnv.url, fromEnv.user, fromEnv.password], ['https://ctl:8443', 'ops', 'from-env']);
  const fromFlags = resolveClientSettings({ url: 'http://flag:1', password: 'from-flag', user: 'me' }, { HOME: home, HANDYREP_URL: 'https://ctl:8443', HANDYREP_PASSWORD: 'from-env' });
  assert.deepEqual([fromFlags.url, fromFlags.user, fromFlags.password], ['http://flag:1', 'me', 'from-flag']);
  const explicit = file('other.yaml', 'url: http://other:2\n');
  assert.equal(resolveClientSettings({ clientConfig: explicit }, { HOME: home }).url, 'http://other:2');
  assert.equal(resolveClientSettings({}, { HOME: home, HANDYREP_CLIENT_CONFIG: explicit }).url, 'http://other:2');
});

test('a password file others can read is used, with a warning', () => {
  const open = file('open.yaml', 'password: x\n', 0o644);
  const settings = resolveClientSettings({ clientConfig: open }, {});
  assert.equal(settings.password, 'x');
  assert.match(settings.warnings[0] ?? '', /others may read it \(chmod 600/);
});

test('bad settings are usage errors naming where they came from', () => {
  const bad = (fn: () => unknown, pattern: RegExp): void =>
    assert.throws(fn, (err: unknown) => err instanceof CliError && err.exitCode === EXIT.USAGE && pattern.test(err.message));
  bad(() => resolveClientSettings({ url: 'ftp://x' }, {}), /--url: "ftp:\/\/x" is not an http/);
  bad(() => resolveClientSettings({}, { HANDYREP_URL: 'not a url' }), /HANDYREP_URL: "not a url" is not a URL/);
  bad(() => resolveClientSettings({ url: 'http://u:p@host:1' }, {}), /not in the URL/);
  bad(() => resolveClientSettings({ clientConfig: join(dir, 'missing.yaml') }, {}), /cannot read it/);
  bad(() => resolveClientSettings({ clientConfig: file('unknown.yaml', 'url: http://a:1\nuri: x\n') }, {}), /unknown key "uri"/);
  bad(() => resolveClientSettings({ clientConfig: file('list.yaml', '- a\n') }, {}), /expected a mapping/);
  bad(() => resolveClientSettings({ clientConfig: file('yaml.yaml', 'url: [\n') }, {}), /not valid YAML/);
});
