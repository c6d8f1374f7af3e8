/** Web strings to typed values, driven by each parameter's schema. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { coerceServerProp, coerceWebValue, parseWebBoolean } from '../../src/daemon/coerce.js';

test('booleans: true/false/t/f/yes/no/on/off/1/0 in any case; anything else is left for validation', () => {
  for (const word of ['true', 'T', 'yes', 'ON', '1', 'True']) assert.equal(parseWebBoolean(word), true, word);
  for (const word of ['false', 'F', 'No', 'off', '0', 'FALSE']) assert.equal(parseWebBoolean(word), false, word);
  for (const word of ['', 'maybe', '2', 'yes please', 'nein']) assert.equal(parseWebBoolean(word), undefined, word);
  assert.equal(coerceWebValue('off', { type: 'boolean' }), false);
  assert.equal(coerceWebValue('maybe', { type: 'boolean' }), 'maybe');
});

test('integers from digit strings only; numbers from decimals; typed JSON values pass unchanged', () => {
  assert.equal(coerceWebValue('20', { type: 'integer' }), 20);
  assert.equal(coerceWebValue('-3', { type: 'integer' }), -3);
  for (const bad of ['1.5', '1e3', ' 2', '0x10', '', '99999999999999999999']) assert.equal(coerceWebValue(bad, { type: 'integer' }), bad);
  assert.equal(coerceWebValue('0.5', { type: 'number' }), 0.5);
  assert.equal(coerceWebValue('abc', { type: 'number' }), 'abc');
  assert.equal(coerceWebValue(7, { type: 'boolean' }), 7, 'JSON values are validated, not converted');
  assert.equal(coerceWebValue(true, { type: 'integer' }), true);
});

test('nullable: an empty string is null; unions convert by the first typed branch, strings stay strings', () => {
  const nullableName = { anyOf: [{ type: 'string' as const }, { type: 'null' as const }] };
  assert.equal(coerceWebValue('', nullableName), null);
  assert.equal(coerceWebValue('paul', nullableName), 'paul');
  const nullableBoolean = { type: ['boolean' as const, 'null' as const] };
  assert.equal(coerceWebValue('false', nullableBoolean), false);
  assert.equal(coerceWebValue('', nullableBoolean), null);
  assert.equal(coerceWebValue('perhaps', nullableBoolean), 'perhaps');
  const nameOrList = { anyOf: [{ type: 'string' as const }, { type: 'array' as const }] };
  assert.deepEqual(coerceWebValue('["failover","poll_interval"]', nameOrList), ['failover', 'poll_interval']);
  assert.equal(coerceWebValue('poll_interval', nameOrList), 'poll_interval');
  assert.equal(coerceWebValue('[not json', nameOrList), '[not json');
});

test('records from a JSON string; anything else is left for validation', () => {
  const record = { type: 'object' as const, additionalProperties: {} };
  assert.deepEqual(coerceWebValue('{"hostname":"h","port":5433}', record), { hostname: 'h', port: 5433 });
  assert.equal(coerceWebValue('[1,2]', record), '[1,2]');
  assert.equal(coerceWebValue('hostname=h', record), 'hostname=h');
});

test('server settings given as their own keys: by the setting\'s schema, else like map_server_args', () => {
  assert.equal(coerceServerProp('port', '5433'), 5433);
  assert.equal(coerceServerProp('lag_limit', '0.5'), 0.5, 'a decimal lag limit, which map_server_args would have left a string');
  assert.equal(coerceServerProp('enabled', 'false'), false);
  assert.equal(coerceServerProp('nofailover', 'yes'), true);
  assert.equal(coerceServerProp('hostname', '10'), '10', 'a hostname stays a string');
  assert.equal(coerceServerProp('lag_limit_seconds', ''), null);
  // Unknown keys: the original's rules (the table then refuses the unknown setting by name).
  assert.equal(coerceServerProp('custom', '42'), 42);
  assert.equal(coerceServerProp('custom', 'True'), true);
  assert.equal(coerceServerProp('custom', '-1'), '-1');
});
