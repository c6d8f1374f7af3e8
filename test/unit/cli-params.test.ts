/** Flags from the operations table, and typed arguments back to named parameters. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { findOperation, OPERATIONS, type OperationSpec } from '../../src/api/operations.js';
import { CliError } from '../../src/cli/cli-error.js';
import { EXIT } from '../../src/cli/exit-codes.js';
import { normaliseFlagSpelling } from '../../src/cli/main.js';
import { collectParams, describeParams, parseSetItems, recordFlag, type TypedArgs } from '../../src/cli/params.js';

function spec(name: string): OperationSpec {
  const found = findOperation(name);
  if (!found) throw new Error(`no operation ${name}`);
  return found;
}

function typed(partial: Partial<TypedArgs>): TypedArgs {
  return { positionals: [], flags: {}, set: [], ...partial };
}

function usage(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof CliError, String(err));
    assert.equal(err.exitCode, EXIT.USAGE);
    assert.match(err.message, pattern);
    return true;
  });
}

test('every operation gets flags: kinds from the schema, kebab-case names, leading required parameters positional', () => {
  for (const op of OPERATIONS) {
    const flags = describeParams(op);
    assert.deepEqual(flags.map((f) => f.param), [...op.positional], op.name);
    for (const f of flags) assert.match(f.flag, /^[a-z][a-z0-9-]*$/, `${op.name}.${f.param}`);
  }
  const status = describeParams(spec('get_status'))[0];
  assert.equal(status?.kind, 'enum');
  assert.deepEqual(status?.choices, ['cached', 'poll', 'verify']);
  assert.equal(status?.flag, 'check-type');
  assert.equal(status?.positional, false);
  assert.equal(describeParams(spec('read_log'))[0]?.kind, 'integer');
  const failover = describeParams(spec('manual_failover'));
  assert.deepEqual(failover.map((f) => [f.param, f.kind, f.nullable, f.positional]), [
    ['newmaster', 'string', true, false],
    ['remaster', 'boolean', true, false],
    ['dry_run', 'boolean', false, false],
  ]);
  const add = describeParams(spec('add_server'));
  assert.deepEqual(add.map((f) => [f.param, f.kind, f.positional, f.required]), [
    ['servername', 'string', true, true],
    ['serverprops', 'record', false, true],
  ]);
  assert.equal(recordFlag(spec('add_server'))?.param, 'serverprops');
  assert.equal(recordFlag(spec('get_status')), null);
  const setting = describeParams(spec('get_setting'))[0];
  assert.equal(setting?.kind, 'list');
  assert.equal(setting?.positional, true);
  const remaster = describeParams(spec('remaster'));
  assert.deepEqual(remaster.map((f) => f.positional), [true, false], 'only the required leading parameter is positional');
});

test('typed arguments become named parameters; only what was given is sent', () => {
  assert.deepEqual(collectParams(spec('get_status'), typed({ flags: { check_type: 'poll' } })), { check_type: 'poll' });
  assert.deepEqual(collectParams(spec('get_status'), typed({})), {});
  assert.deepEqual(collectParams(spec('read_log'), typed({ flags: { numlines: '50' } })), { numlines: 50 });
  assert.deepEqual(collectParams(spec('poll'), typed({ positionals: ['paul'] })), { servername: 'paul' });
  assert.deepEqual(collectParams(spec('poll'), typed({ flags: { servername: 'paul' } })), { servername: 'paul' });
  assert.deepEqual(collectParams(spec('manual_failover'), typed({ flags: { newmaster: 'paul', remaster: false, dry_run: true } })), { newmaster: 'paul', remaster: false, dry_run: true });
  assert.deepEqual(collectParams(spec('get_server_info'), typed({ flags: { servername: '' } })), { servername: null }, 'an empty nullable value is null');
  assert.deepEqual(collectParams(spec('get_setting'), typed({ positionals: ['poll_interval'] })), { setting_name: 'poll_interval' });
  assert.deepEqual(collectParams(spec('get_setting'), typed({ positionals: ['failover', 'poll_interval'] })), { setting_name: ['failover', 'poll_interval'] });
});

test('records: --set key=value (converted by the setting\'s schema) and a JSON object, merged, never twice', () => {
  assert.deepEqual(parseSetItems(['hostname=10.0.0.4', 'port=5433', 'nofailover=true', 'pgdata=/data/a=b']), {
    hostname: '10.0.0.4',
    port: 5433,
    nofailover: true,
    pgdata: '/data/a=b',
  });
  const add = spec('add_server');
  assert.deepEqual(collectParams(add, typed({ positionals: ['ringo'], set: ['hostname=h', 'port=5433'] })), { servername: 'ringo', serverprops: { hostname: 'h', port: 5433 } });
  assert.deepEqual(collectParams(add, typed({ positionals: ['ringo'], flags: { serverprops: '{"hostname":"h"}' }, set: ['port=1'] })), { servername: 'ringo', serverprops: { hostname: 'h', port: 1 } });
  usage(() => collectParams(add, typed({ positionals: ['ringo'], flags: { serverprops: '{"port":1}' }, set: ['port=2'] })), /setting "port" is given both/);
  usage(() => collectParams(add, typed({ positionals: ['ringo'], set: ['port=1', 'port=2'] })), /"port" is given twice/);
  usage(() => collectParams(add, typed({ positionals: ['ringo'], set: ['port'] })), /--set "port": expected key=value/);
  usage(() => collectParams(add, typed({ positionals: ['ringo'], flags: { serverprops: '[1]' } })), /--serverprops: expected a JSON object/);
  usage(() => collectParams(add, typed({ positionals: ['ringo'], flags: { serverprops: '{nope' } })), /--serverprops: not valid JSON/);
  usage(() => collectParams(add, typed({ positionals: ['ringo'] })), /missing serverprops: give --set key=value/);
  usage(() => collectParams(spec('poll'), typed({ positionals: ['paul'], set: ['a=b'] })), /--set is only for functions that take server settings/);
});

test('bad values are usage errors naming the flag and the value', () => {
  usage(() => collectParams(spec('read_log'), typed({ flags: { numlines: 'abc' } })), /--numlines: "abc" is not an integer/);
  usage(() => collectParams(spec('read_log'), typed({ flags: { numlines: '0' } })), /--numlines: .*>=1.*\(got 0\)/);
  usage(() => collectParams(spec('get_status'), typed({ flags: { check_type: 'sometimes' } })), /--check-type: "sometimes" is not one of cached, poll, verify/);
  usage(() => collectParams(spec('poll'), typed({ positionals: ['pa;ul'] })), /<servername>: must be 1-63 letters.*\(got "pa;ul"\)/);
  usage(() => collectParams(spec('poll'), typed({ flags: { servername: '$(reboot)' } })), /--servername: must be/);
  usage(() => collectParams(spec('poll'), typed({})), /missing servername: give <servername> or --servername/);
  usage(() => collectParams(spec('poll'), typed({ positionals: ['paul', 'george'] })), /unexpected argument "george"/);
  usage(() => collectParams(spec('poll'), typed({ positionals: ['paul'], flags: { servername: 'george' } })), /servername given twice/);
  usage(() => collectParams(spec('reload_conf'), typed({ flags: { config_file: 'a b.yaml' } })), /--config-file: must be a path/);
});

test('--check_type is read as --check-type; values and anything after -- are left alone', () => {
  assert.deepEqual(normaliseFlagSpelling(['get_status', '--check_type', 'poll', '--dry_run=true', '--set', 'log_file=a_b', '--', '--keep_me']), [
    'get_status',
    '--check-type',
    'poll',
    '--dry-run=true',
    '--set',
    'log_file=a_b',
    '--',
    '--keep_me',
  ]);
});
