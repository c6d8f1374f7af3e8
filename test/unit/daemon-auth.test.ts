/** simple_password_auth, zero_auth, Basic parsing and the configuration checks at load. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OPERATIONS } from '../../src/api/operations.js';
import { configSchema, type HandyRepConfig, type HandyRepConfigInput } from '../../src/config/schema.js';
import { parseBasicAuth } from '../../src/daemon/basic-auth.js';
import { decideSimplePassword, passwordMatches, simplePasswordConfigProblems } from '../../src/plugins/auth/simple_password_auth.js';
import { PluginRegistry } from '../../src/plugins/registry.js';
import type { AuthRequest } from '../../src/plugins/types.js';

function config(input: HandyRepConfigInput): HandyRepConfig {
  return configSchema.parse(input);
}

const passwords = { admin_password: 'admin-pw', read_password: 'read-pw' };
const base = config({ handyrep: { authentication_method: 'simple_password_auth' }, passwords });

function request(password: string | null, functionName: string): AuthRequest {
  const op = OPERATIONS.find((o) => o.name === functionName);
  return { username: 'anyone', password, functionName, access: op?.access ?? 'admin', remoteAddress: '127.0.0.1' };
}

test('admin password: everything; read password: read functions only; wrong or none: 401', () => {
  for (const op of OPERATIONS.filter((o) => o.web)) {
    assert.deepEqual(decideSimplePassword(base, request('admin-pw', op.name)), { ok: true, user: 'admin' });
    const read = decideSimplePassword(base, request('read-pw', op.name));
    assert.equal(read.ok, op.access === 'read', op.name);
    if (!read.ok) assert.equal(read.status, 403);
    const wrong = decideSimplePassword(base, request('admin-pw ', op.name));
    assert.equal(wrong.ok ? 0 : wrong.status, 401);
    const none = decideSimplePassword(base, request(null, op.name));
    assert.equal(none.ok ? 0 : none.status, 401);
  }
});

test('ro_function_list replaces the table\'s read set for the read password', () => {
  const listed = config({ ...base, plugins: { simple_password_auth: { ro_function_list: ['get_status', 'poll_all'] } } });
  assert.equal(decideSimplePassword(listed, request('read-pw', 'poll_all')).ok, true);
  assert.equal(decideSimplePassword(listed, request('read-pw', 'get_server_info')).ok, false);
  assert.deepEqual(simplePasswordConfigProblems(listed), []);
});

test('remembered matches belong to one configuration: after a reload the old password fails and roles follow the new one', () => {
  assert.equal(decideSimplePassword(base, request('read-pw', 'get_status')).ok, true);
  assert.equal(decideSimplePassword(base, request('admin-pw', 'restart')).ok, true);
  const reloaded = config({ handyrep: { authentication_method: 'simple_password_auth' }, passwords: { admin_password: 'read-pw', read_password: 'new-read' } });
  const old = decideSimplePassword(reloaded, request('admin-pw', 'get_status'));
  assert.equal(old.ok ? 0 : old.status, 401);
  assert.deepEqual(decideSimplePassword(reloaded, request('read-pw', 'restart')), { ok: true, user: 'admin' });
  const read = decideSimplePassword(reloaded, request('new-read', 'restart'));
  assert.equal(read.ok ? 0 : read.status, 403);
  // The first configuration is unchanged by the second.
  const stillRead = decideSimplePassword(base, request('read-pw', 'restart'));
  assert.equal(stillRead.ok ? 0 : stillRead.status, 403);
});

test('an empty configured password never matches, even an empty given one', () => {
  assert.equal(passwordMatches('', ''), false);
  assert.equal(passwordMatches('x', 'x'), true);
  const noRead = config({ handyrep: { authentication_method: 'simple_password_auth' }, passwords: { admin_password: 'a-pw' } });
  assert.equal(decideSimplePassword(noRead, request('', 'get_status')).ok, false);
});

test('configuration problems: no admin password, read = admin, bad ro_function_list', () => {
  assert.match(simplePasswordConfigProblems(config({}))[0] ?? '', /passwords\.admin_password/);
  assert.match(simplePasswordConfigProblems(config({ passwords: { admin_password: 'same', read_password: 'same' } })).join('\n'), /read_password/);
  const bad = config({ passwords, plugins: { simple_password_auth: { ro_function_list: ['get_status', 'no_such_function', 'verify_master'] } } });
  const problems = simplePasswordConfigProblems(bad).join('\n');
  assert.match(problems, /no_such_function/);
  assert.match(problems, /verify_master/, 'a library-only function cannot be listed');
  assert.match(simplePasswordConfigProblems(config({ passwords, plugins: { simple_password_auth: { typo: 1 } } })).join('\n'), /typo/);
});

test('the registry refuses such a configuration at load (HandyRep.open, reload_conf) and an unknown auth plugin', () => {
  const registry = new PluginRegistry();
  assert.throws(() => registry.checkConfigured(config({ handyrep: { authentication_method: 'simple_password_auth' } })), /admin_password/);
  assert.throws(() => registry.checkConfigured(config({ handyrep: { authentication_method: 'ldap_auth' } })), /authentication_method/);
  assert.throws(() => registry.checkConfigured(config({ handyrep: { authentication_method: 'poll_connect' } })), /not a auth plugin|auth plugin/);
  registry.checkConfigured(base);
  registry.checkConfigured(config({}));
});

test('Basic credentials: user name ignored by the plugin, colon in passwords kept, malformed headers are none', () => {
  const header = (text: string): string => `Basic ${Buffer.from(text).toString('base64')}`;
  assert.deepEqual(parseBasicAuth(header('u:p:q')), { username: 'u', password: 'p:q' });
  assert.deepEqual(parseBasicAuth(header(':pw')), { username: '', password: 'pw' });
  assert.deepEqual(parseBasicAuth(`basic  ${Buffer.from('a:b').toString('base64')}`), { username: 'a', password: 'b' });
  for (const bad of [undefined, '', 'Bearer abc', 'Basic', 'Basic !!!', header('no-colon'), `Basic ${'A'.repeat(5000)}`]) {
    assert.equal(parseBasicAuth(bad), null, String(bad).slice(0, 20));
  }
});
