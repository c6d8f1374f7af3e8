/** From query/form/JSON parameters to an operation's named library parameters. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { findOperation, OPERATIONS, type OperationSpec } from '../../src/api/operations.js';
import { HandyRepError } from '../../src/model/errors.js';
import { collectWireParams, FormBody } from '../../src/daemon/param-sources.js';
import { webParams, webSignature } from '../../src/daemon/web-params.js';

function spec(name: string): OperationSpec {
  const found = findOperation(name);
  if (!found) throw new Error(`no operation ${name}`);
  return found;
}

function fromQuery(name: string, query: Record<string, string | string[]>, body?: unknown): Record<string, unknown> {
  return webParams(webSignature(spec(name)), collectWireParams(query, body));
}

function refusal(fn: () => unknown): { parameter: unknown; message: string } {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof HandyRepError);
    assert.equal(err.code, 'INVALID_PARAMETER');
    return { parameter: (err as { parameter?: unknown }).parameter, message: err.message };
  }
  assert.fail('expected INVALID_PARAMETER');
}

test('every web operation has a signature; extra keys go only to a single record parameter', () => {
  for (const op of OPERATIONS.filter((o) => o.web)) {
    const sig = webSignature(op);
    for (const name of sig.required) assert.ok(Object.hasOwn(sig.params, name), `${op.name}.${name}`);
  }
  assert.equal(webSignature(spec('add_server')).recordParam, 'serverprops');
  assert.equal(webSignature(spec('validate_server_settings')).recordParam, 'serverdict');
  assert.equal(webSignature(spec('get_status')).recordParam, null);
});

test('original URL forms: strings converted, booleans as words', () => {
  assert.deepEqual(fromQuery('get_status', { check_type: 'poll' }), { check_type: 'poll' });
  assert.deepEqual(fromQuery('get_server_info', { servername: 'paul', verify: 'False' }), { servername: 'paul', verify: false });
  assert.deepEqual(fromQuery('read_log', { numlines: '5' }), { numlines: 5 });
  assert.deepEqual(fromQuery('set_verbose', { verbose: 'off' }), { verbose: false });
});

test('add_server: extra keys become serverprops; with a JSON serverprops they merge; a key in both is refused', () => {
  assert.deepEqual(fromQuery('add_server', { servername: 'ringo', hostname: 'h', port: '5433' }), {
    servername: 'ringo',
    serverprops: { hostname: 'h', port: 5433 },
  });
  assert.deepEqual(fromQuery('add_server', { servername: 'ringo', serverprops: '{"hostname":"h"}', port: '5433' }), {
    servername: 'ringo',
    serverprops: { hostname: 'h', port: 5433 },
  });
  const both = refusal(() => fromQuery('add_server', { servername: 'ringo', serverprops: '{"port":1}', port: '2' }));
  assert.equal(both.parameter, 'port');
  // "__proto__" stays a plain key: it cannot change the prototype of serverprops.
  const proto = fromQuery('add_server', JSON.parse('{"servername":"ringo","__proto__":"1"}') as Record<string, string>);
  assert.deepEqual(Object.keys(proto['serverprops'] as object), ['__proto__']);
  assert.equal(Object.getPrototypeOf(proto['serverprops']), Object.prototype);
});

test('JSON bodies carry typed values; form bodies strings; the sources merge', () => {
  assert.deepEqual(fromQuery('get_server_info', {}, { servername: 'paul', verify: true }), { servername: 'paul', verify: true });
  assert.deepEqual(fromQuery('get_server_info', { verify: 'yes' }, FormBody.parse('servername=paul')), { servername: 'paul', verify: true });
  assert.deepEqual(fromQuery('add_server', {}, { servername: 'ringo', serverprops: { hostname: 'h', port: 5433 } }), {
    servername: 'ringo',
    serverprops: { hostname: 'h', port: 5433 },
  });
});

test('get_setting web form: category (default handyrep) + setting → [category, setting]', () => {
  assert.deepEqual(fromQuery('get_setting', { setting: 'poll_interval', category: 'failover' }), { setting_name: ['failover', 'poll_interval'] });
  assert.deepEqual(fromQuery('get_setting', { setting: 'cluster_name' }), { setting_name: ['handyrep', 'cluster_name'] });
  assert.equal(refusal(() => fromQuery('get_setting', {})).parameter, 'setting');
  assert.equal(refusal(() => fromQuery('get_setting', { setting: 'a;b' })).parameter, 'setting');
});

test('refusals name the parameter: unknown, repeated (query, form, across sources), body not an object', () => {
  const unknown = refusal(() => fromQuery('get_status', { foo: '1' }));
  assert.equal(unknown.parameter, 'foo');
  assert.match(unknown.message, /takes check_type/);
  assert.equal(refusal(() => fromQuery('get_status', { check_type: ['poll', 'verify'] })).parameter, 'check_type');
  assert.equal(refusal(() => fromQuery('poll', {}, FormBody.parse('servername=a&servername=b'))).parameter, 'servername');
  assert.equal(refusal(() => fromQuery('poll', { servername: 'a' }, { servername: 'b' })).parameter, 'servername');
  assert.equal(refusal(() => fromQuery('poll', {}, [1, 2])).parameter, '(body)');
  assert.equal(refusal(() => fromQuery('poll', {}, 'text')).parameter, '(body)');
  assert.equal(refusal(() => fromQuery('poll_all', {}, null)).parameter, '(body)', 'a JSON null is not "no body"');
  const long = refusal(() => fromQuery('get_status', { ['x'.repeat(500)]: '1' }));
  assert.ok(String(long.parameter).length < 100, 'long names are shortened in replies');
});
