import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkEnable, checkRemove, planAddServer, planAlterServer, validateServerProps } from '../../src/engine/server-admin.js';
import { configSchema } from '../../src/config/schema.js';
import { NO_FACTS, NO_FLAGS, type ServerMap, type ServerRecord } from '../../src/model/server.js';
import { makeServerStatus } from '../../src/model/status.js';

const defaults = configSchema.parse({}).server_defaults;
function record(role: string, enabled: boolean): ServerRecord {
  return { ...defaults, hostname: 'h1', role, enabled, ...makeServerStatus('healthy', '', 'now'), ...NO_FACTS, ...NO_FLAGS };
}
const servers: ServerMap = Object.freeze({ john: record('master', true), paul: record('replica', true), old: record('master', false) }) as ServerMap;

test('add_server: defaults, disabled, role replica; refusals name the problem', () => {
  const ok = planAddServer(servers, 'george', { hostname: '10.0.0.3', port: 5433 }, defaults, 'now');
  assert.ok(ok.ok);
  assert.equal(ok.value.enabled, false);
  assert.equal(ok.value.role, 'replica');
  assert.equal(ok.value.port, 5433);
  assert.equal(ok.value.pgdata, defaults.pgdata);
  const refusals: [string, Record<string, unknown>, RegExp][] = [
    ['john', { hostname: 'x' }, /already exists/],
    ['george', {}, /hostname: required/],
    ['george', { hostname: 'a;b' }, /hostname/],
    ['george', { hostname: 'x', enabled: 'yes' }, /enabled/],
    ['george', { hostname: 'x', lag: 1 }, /lag: unknown/],
    ['george', { hostname: 'x', lag_mb: 1 }, /lag_mb: observed/],
    ['ge orge', { hostname: 'x' }, /servername/],
  ];
  for (const [name, props, message] of refusals) {
    const plan = planAddServer(servers, name, props, defaults, 'now');
    assert.ok(!plan.ok, name);
    assert.match(plan.reason, message);
  }
});

test('validateServerProps lists every problem at once', () => {
  const v = validateServerProps({ port: 'x', status: 'healthy', bogus: 1 });
  assert.ok(!v.ok);
  assert.match(v.reason, /port/);
  assert.match(v.reason, /status/);
  assert.match(v.reason, /bogus/);
});

test('alter_server_def: role change refused while in replication, allowed when disabled', () => {
  const refused = planAlterServer(servers, 'paul', { role: 'master' });
  assert.ok(!refused.ok);
  assert.match(refused.reason, /role/);
  const allowed = planAlterServer(servers, 'old', { role: 'replica' });
  assert.ok(allowed.ok);
  assert.equal(allowed.value.record.role, 'replica');
  const toggle = planAlterServer(servers, 'paul', { enabled: false, failover_priority: 3 });
  assert.ok(toggle.ok);
  assert.equal(toggle.value.enabledChange, 'disable');
  assert.equal(toggle.value.record.enabled, true, 'enabled is changed by disable(), not by the definition');
});

test('enable refuses a second master; remove refuses an enabled server', () => {
  const second = checkEnable(servers, 'old');
  assert.ok(!second.ok);
  assert.match(second.reason, /second master/);
  assert.ok(checkEnable(servers, 'paul').ok);
  assert.ok(!checkRemove(servers, 'paul').ok);
  assert.ok(checkRemove(servers, 'old').ok);
  assert.ok(!checkRemove(servers, 'nobody').ok);
});

for (const key of ['constructor', 'toString', '__proto__', 'hasOwnProperty']) {
  test(`validateServerProps: "${key}" is an unknown setting, not the object's prototype`, () => {
    const v = validateServerProps(JSON.parse(`{"${key}": 1}`) as Record<string, unknown>);
    assert.equal(v.ok, false);
    if (!v.ok) assert.match(v.reason, new RegExp(`${key}: unknown server setting`));
  });
}
