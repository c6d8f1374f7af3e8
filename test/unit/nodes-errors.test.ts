/** Classification of SSH and SQL connection failures, and password masking. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HandyRepError } from '../../src/model/errors.js';
import { classifySshError, describeSshFailure, SshConnectError } from '../../src/nodes/ssh-errors.js';
import { classifyConnectError, describeDriverError, maskSecret, queryError, SqlConnectError } from '../../src/nodes/sql-errors.js';

/** An Error with the extra fields drivers put on theirs. */
function driverError(message: string, extra: Record<string, string>): Error {
  return Object.assign(new Error(message), extra);
}

describe('classifySshError', () => {
  const cases: ReadonlyArray<[string, Error, string]> = [
    ['ECONNREFUSED', driverError('connect ECONNREFUSED 127.0.2.11:2222', { code: 'ECONNREFUSED', level: 'client-socket' }), 'refused'],
    ['ready timeout', driverError('Timed out while waiting for handshake', { level: 'client-timeout' }), 'timeout'],
    ['keepalive timeout', driverError('Keepalive timeout', { level: 'client-timeout' }), 'timeout'],
    ['ETIMEDOUT', driverError('connect ETIMEDOUT', { code: 'ETIMEDOUT' }), 'timeout'],
    ['EHOSTUNREACH', driverError('connect EHOSTUNREACH', { code: 'EHOSTUNREACH' }), 'timeout'],
    ['auth', driverError('All configured authentication methods failed', { level: 'client-authentication' }), 'auth'],
    ['DNS', driverError('getaddrinfo ENOTFOUND nowhere', { code: 'ENOTFOUND' }), 'other'],
    ['reset', driverError('read ECONNRESET', { code: 'ECONNRESET' }), 'other'],
  ];
  for (const [label, err, kind] of cases) {
    it(`${label} → ${kind}`, () => assert.equal(classifySshError(err), kind));
  }
  it('copes with non-errors', () => {
    assert.equal(classifySshError('boom'), 'other');
    assert.equal(classifySshError(null), 'other');
  });
  it('says refused / timed out / auth in the message, as CONTROL_CHANNEL', () => {
    assert.match(describeSshFailure('refused', new Error('x'), 3000), /refused/);
    assert.match(describeSshFailure('timeout', new Error('x'), 3000), /timed out after 3000 ms/);
    assert.match(describeSshFailure('auth', new Error('x'), 3000), /authentication failed/);
    const err = new SshConnectError('refused', 'm');
    assert.ok(err instanceof HandyRepError);
    assert.equal(err.code, 'CONTROL_CHANNEL');
    assert.equal(err.kind, 'refused');
  });
});

describe('classifyConnectError', () => {
  const cases: ReadonlyArray<[string, unknown, string]> = [
    ['ECONNREFUSED', driverError('connect ECONNREFUSED 127.0.2.21:5432', { code: 'ECONNREFUSED' }), 'refused'],
    ['ETIMEDOUT', driverError('connect ETIMEDOUT', { code: 'ETIMEDOUT' }), 'timeout'],
    ['EHOSTUNREACH', driverError('connect EHOSTUNREACH', { code: 'EHOSTUNREACH' }), 'timeout'],
    ['pg connect timeout', new Error('timeout expired'), 'timeout'],
    ['pg terminated by timeout', new Error('Connection terminated due to connection timeout'), 'timeout'],
    ['starting up', driverError('the database system is starting up', { code: '57P03' }), 'starting'],
    ['shutting down', driverError('the database system is shutting down', { code: '57P03' }), 'starting'],
    ['bad password', driverError('password authentication failed for user "x"', { code: '28P01' }), 'auth'],
    ['no pg_hba entry', driverError('no pg_hba.conf entry', { code: '28000' }), 'auth'],
    ['unknown database', driverError('database "nope" does not exist', { code: '3D000' }), 'auth'],
    ['too many connections', driverError('sorry, too many clients already', { code: '53300' }), 'other'],
    ['DNS', driverError('getaddrinfo ENOTFOUND x', { code: 'ENOTFOUND' }), 'other'],
    ['terminated', new Error('Connection terminated unexpectedly'), 'other'],
    [
      'happy eyeballs, all refused',
      new AggregateError([driverError('a', { code: 'ECONNREFUSED' }), driverError('b', { code: 'ECONNREFUSED' })]),
      'refused',
    ],
    [
      'happy eyeballs, mixed',
      new AggregateError([driverError('a', { code: 'ECONNREFUSED' }), driverError('b', { code: 'ENETUNREACH' })]),
      'other',
    ],
  ];
  for (const [label, err, kind] of cases) {
    it(`${label} → ${kind}`, () => assert.equal(classifyConnectError(err), kind));
  }

  it('names the SQLSTATE or errno code and masks the password', () => {
    const err = driverError('role "x" with password s3cr3t! failed', { code: '28P01' });
    const text = describeDriverError(err, 's3cr3t!');
    assert.equal(text, 'role "x" with password *** failed (SQLSTATE 28P01)');
    assert.equal(describeDriverError(driverError('refused', { code: 'ECONNREFUSED' }), undefined), 'refused (ECONNREFUSED)');
    assert.equal(maskSecret('a pw pw', 'pw'), 'a *** ***');
    assert.equal(maskSecret('unchanged', ''), 'unchanged');
  });

  it('makes SQL-coded errors', () => {
    const connectErr = new SqlConnectError('auth', 'm');
    assert.ok(connectErr instanceof HandyRepError);
    assert.equal(connectErr.code, 'SQL');
    assert.equal(connectErr.kind, 'auth');
    const err = queryError('postgresql u@h:1/d', driverError('canceling statement due to statement timeout', { code: '57014' }), 'pw');
    assert.equal(err.code, 'SQL');
    assert.match(err.message, /statement timeout \(SQLSTATE 57014\)/);
  });
});
