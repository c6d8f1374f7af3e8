/**
 * The agent's health endpoints beyond the route table (agent-decide.test.ts): who may read them
 * (health-auth.ts), the lag behind the master's published position (master-lag.ts), the probe's
 * classification of errors (master-probe.ts), the member record's freshness and content, and the
 * agent section's TLS and password settings.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError } from '../../src/config/config-error.js';
import { parseConfig } from '../../src/config/load.js';
import type { HandyRepConfig } from '../../src/config/schema.js';
import { decideHealthAuth } from '../../src/agent/health-auth.js';
import { factsNow, healthReply, type HealthFacts } from '../../src/agent/health.js';
import { masterLagBytes, recordFresh } from '../../src/agent/master-lag.js';
import { parseMemberView, viewsUnderTheirKeys, type MemberView } from '../../src/store/etcd/member-view.js';
import { classifyProbeError, isLoginFailure, MasterProbe } from '../../src/agent/master-probe.js';
import { LeanPgError } from '../../src/nodes/lean-pg/session.js';
import { memberRecord, recordContent } from '../../src/agent/member-record.js';
import type { MasterKeyView } from '../../src/agent/decide.js';
import type { SqlFacts } from '../../src/agent/local-postgres.js';

const SERVERS = 'servers: {john: {hostname: 127.0.0.11, role: master}, paul: {hostname: 127.0.0.12, role: replica}}\n';
const config = (yaml: string): HandyRepConfig => parseConfig(SERVERS + yaml, 'test.yaml');

function problemsOf(yaml: string): string[] {
  try {
    config(yaml);
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.problems.map((p) => `${p.path}: ${p.message}`);
  }
  return [];
}

describe('agent health endpoints: credentials', () => {
  const open = config('passwords: {admin_password: adminpw, read_password: readpw}\n');
  const required = config('passwords: {admin_password: adminpw, read_password: readpw}\nagent: {require_password: true}\n');
  const noPasswords = config('');
  const creds = (password: string): { username: string; password: string } => ({ username: 'x', password });
  const rows: ReadonlyArray<[string, HandyRepConfig, { username: string; password: string } | null, number]> = [
    ['open, no credentials (Patroni: HAProxy sends none)', open, null, 200],
    ['open, read password', open, creds('readpw'), 200],
    ['open, wrong password still refused', open, creds('nope'), 401],
    ['open, no password configured: credentials ignored', noPasswords, creds('anything'), 200],
    ['required, no credentials', required, null, 401],
    ['required, wrong password', required, creds('nope'), 401],
    ['required, empty password', required, creds(''), 401],
    ['required, read password', required, creds('readpw'), 200],
    ['required, admin password', required, creds('adminpw'), 200],
  ];
  for (const [label, cfg, credentials, expected] of rows) {
    it(`${label} → ${expected}`, () => {
      const outcome = decideHealthAuth(cfg, credentials);
      assert.equal(outcome.ok ? 200 : outcome.status, expected);
    });
  }
});

describe('agent settings: TLS and password', () => {
  it('tls_cert and tls_key go together', () => {
    assert.match(problemsOf('agent: {tls_cert: cert.pem}\n').join('\n'), /^agent\.tls_key: .*tls_cert and tls_key go together/);
    assert.deepEqual(problemsOf('agent: {tls_cert: cert.pem, tls_key: key.pem}\n'), []);
  });
  it('require_password needs a password to accept', () => {
    assert.match(problemsOf('agent: {require_password: true}\n').join('\n'), /agent\.require_password: .*read_password/);
    assert.deepEqual(problemsOf('passwords: {read_password: r, admin_password: a}\nagent: {require_password: true}\n'), []);
  });
});

describe('lag behind the master (/replica?lag=)', () => {
  const now = Date.parse('2026-12-04T12:00:10Z');
  const replica = (received: string | null, replayed: string | null): SqlFacts => ({
    in_recovery: true,
    timeline: 1,
    wal_position: replayed,
    received_lsn: received,
    replayed_lsn: replayed,
    wal_receiver: 'streaming',
    sender_host: '127.0.0.11',
    replay_lag_bytes: 0,
    server_version: '15.8',
  });
  const master: MemberView = { name: 'john', role: 'master', postgres: 'running', wal_position: '0/3000000', observed_at: '2026-12-04T12:00:09Z', sees_master: null, sees_master_detail: null, probed_at: null, master_probed: null };
  const rows: ReadonlyArray<[string, SqlFacts | null, MemberView | null, number | null]> = [
    ['behind by 16 MB', replica('0/2000000', '0/2000000'), master, 16 * 1024 * 1024],
    ['received counts, not only replayed (Patroni)', replica('0/3000000', '0/1000000'), master, 0],
    ['ahead of a record one round old → 0, not negative', replica('0/3000100', '0/3000100'), master, 0],
    ['master record stale (older than ttl)', replica('0/2000000', '0/2000000'), { ...master, observed_at: '2026-12-04T12:00:01Z' }, null],
    ['master record without observed_at (older agent)', replica('0/2000000', '0/2000000'), { ...master, observed_at: null }, null],
    ['master record absent', replica('0/2000000', '0/2000000'), null, null],
    ['recorded master not running', replica('0/2000000', '0/2000000'), { ...master, postgres: 'crashed' }, null],
    ['recorded master read-only', replica('0/2000000', '0/2000000'), { ...master, role: 'replica' }, null],
    ['this node is no replica', { ...replica('0/1', '0/1'), in_recovery: false }, master, null],
    ['this node did not answer SQL', null, master, null],
    ['no positions', replica(null, null), master, null],
  ];
  for (const [label, self, rec, expected] of rows) {
    it(`${label} → ${String(expected)}`, () => assert.equal(masterLagBytes(self, rec, now, 5000), expected));
  }
  it('freshness: within ttl either way; a record from the future beyond it is not fresh', () => {
    assert.equal(recordFresh({ observed_at: '2026-12-04T12:00:05Z' }, now, 5000), true);
    assert.equal(recordFresh({ observed_at: '2026-12-04T12:00:04.999Z' }, now, 5000), false);
    assert.equal(recordFresh({ observed_at: '2026-12-04T12:00:20Z' }, now, 5000), false);
    assert.equal(recordFresh({ observed_at: 'yesterday' }, now, 5000), false);
  });
  it('parses member records, refusing what is not one', () => {
    assert.equal(parseMemberView(null), null);
    assert.equal(parseMemberView('not json'), null);
    assert.equal(parseMemberView('{"role":"master"}'), null);
    assert.deepEqual(parseMemberView('{"name":"john","postgres":"running","role":"master","wal_position":"0/1","observed_at":"x","sees_master":null}'), {
      name: 'john',
      role: 'master',
      postgres: 'running',
      wal_position: '0/1',
      observed_at: 'x',
      sees_master: null,
      sees_master_detail: null,
      probed_at: null,
      master_probed: null,
    });
  });
});

describe('the agent\'s probe of the master', () => {
  const rows: ReadonlyArray<[string, unknown, boolean | null]> = [
    ['password refused (SQLSTATE 28P01): the server answers', new LeanPgError('server', 'FATAL: password authentication failed', '28P01'), true],
    ['starting up (57P03): answers', new LeanPgError('server', 'FATAL: the database system is starting up', '57P03'), true],
    ['a password method not allowed: it asked, so it answers', new LeanPgError('auth_refused', 'asked for md5'), true],
    ['connection refused: PostgreSQL does not answer', new LeanPgError('network', 'connect ECONNREFUSED', 'ECONNREFUSED'), false],
    ['connect or query timeout (a DROP, a frozen server)', new LeanPgError('timeout', 'no answer within 300 ms'), false],
    ['host unreachable', new LeanPgError('network', 'connect EHOSTUNREACH', 'EHOSTUNREACH'), false],
    ['session ended before the answer', new LeanPgError('closed', 'the connection ended'), false],
    ['not the PostgreSQL protocol (something else on its port): no PostgreSQL answers', new LeanPgError('protocol', "an unexpected message 'H'"), false],
    ['a local bug (TypeError): the probe did not run → unknown', new TypeError('x is not a function'), null],
    ['out of file descriptors (EMFILE) → unknown', new LeanPgError('network', 'connect EMFILE', 'EMFILE'), null],
    ["this host's resolver down (EAI_AGAIN) → unknown", new LeanPgError('network', 'getaddrinfo EAI_AGAIN', 'EAI_AGAIN'), null],
    ['an error that is not the session\'s, even with a network code → unknown', Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }), null],
  ];
  for (const [label, err, sees] of rows) it(`${label} → ${String(sees)}`, () => assert.equal(classifyProbeError(err).sees, sees));
  // Whether the server answered this probe (its password request, or a login finished this round)
  // before the failure: an answer means it is up and speaks the protocol (pg_isready: accepting).
  const answeredRows: ReadonlyArray<[string, unknown, boolean, boolean | null, RegExp]> = [
    ['password request answered, then the login timed out (slow SCRAM): seen', new LeanPgError('timeout', 'the login did not end', '', true), false, true, /^answers the startup, then no answer within the timeout$/],
    ['the same, told by the caller (a session opened this round, then SELECT 1 timed out): seen', new LeanPgError('timeout', 'no answer within 300 ms (query)'), true, true, /^answers the startup, then no answer within the timeout$/],
    ['password request answered, then the connection ended: seen', new LeanPgError('closed', 'ended', '', true), false, true, /then the connection ended$/],
    ['password request answered, then a reset: seen', new LeanPgError('network', 'read ECONNRESET', 'ECONNRESET', true), false, true, /then ECONNRESET$/],
    ['password request answered, then bytes that are not the protocol: seen', new LeanPgError('protocol', 'SCRAM: out of order', '', true), false, true, /then not the PostgreSQL protocol$/],
    ['no answer at all within the timeout: not seen', new LeanPgError('timeout', 'no answer within 300 ms (connect)'), false, false, /^no answer within the timeout$/],
    ['refused: not seen', new LeanPgError('network', 'connect ECONNREFUSED', 'ECONNREFUSED'), false, false, /^connection refused$/],
    ['authentication failed (28P01) after the request: seen, by its SQLSTATE', new LeanPgError('server', 'FATAL: password authentication failed', '28P01', true), false, true, /^answers \(SQLSTATE 28P01\)$/],
    ['a password method not allowed: seen', new LeanPgError('auth_refused', 'asked for md5', '', true), false, true, /^answers \(login not attempted: password method\)$/],
    ['an answer, then a local bug: the server answered, seen', new TypeError('x'), true, true, /then the probe failed$/],
    ['a local bug without an answer: unknown', new TypeError('x'), false, null, /^probe did not run/],
  ];
  for (const [label, err, answered, sees, detail] of answeredRows) {
    it(`${label} → ${String(sees)}`, () => {
      const answer = classifyProbeError(err, answered || (err instanceof LeanPgError && err.startupAnswered));
      assert.equal(answer.sees, sees);
      assert.match(answer.detail, detail);
      if (!answered) assert.deepEqual(classifyProbeError(err), answer, "by default, what the error says of the connect");
    });
  }
  const logins: ReadonlyArray<[string, unknown, boolean]> = [
    ['wrong password (28P01)', new LeanPgError('server', 'x', '28P01'), true],
    ['no pg_hba.conf line (28000)', new LeanPgError('server', 'x', '28000'), true],
    ['a password method not allowed', new LeanPgError('auth_refused', 'x'), true],
    ['starting up (57P03): not the login', new LeanPgError('server', 'x', '57P03'), false],
    ['too many connections (53300): not the login', new LeanPgError('server', 'x', '53300'), false],
    ['a timeout', new LeanPgError('timeout', 'x'), false],
  ];
  for (const [label, err, failed] of logins) it(`login failure? ${label} → ${String(failed)}`, () => assert.equal(isLoginFailure(err), failed));
});

describe('member records read by the controller', () => {
  it('a record whose name is not its key\'s node is dropped', () => {
    const rec = (name: string): string => JSON.stringify({ name, postgres: 'running', role: 'replica', sees_master: false, master_probed: 'john', probed_at: 'x' });
    const views = viewsUnderTheirKeys({ '/p/members/paul': rec('paul'), '/p/members/a-paul': rec('paul'), '/p/members/george': 'not json' }, '/p/members/');
    assert.deepEqual(views.map((v) => v.name), ['paul']);
  });
  it('the probe of a server missing from the agent\'s configuration did not run: unknown', async () => {
    assert.equal((await new MasterProbe(config(''), 300).probe('ringo')).sees, null);
  });
});

describe('member record', () => {
  const facts: SqlFacts = { in_recovery: true, timeline: 1, wal_position: '0/1', received_lsn: '0/1', replayed_lsn: '0/1', wal_receiver: 'streaming', sender_host: 'h', replay_lag_bytes: 0, server_version: '15' };
  const master: MasterKeyView = { state: 'present', record: { name: 'john', term: '1', timeline: null, promoted_lsn: null, sync_set: [], since: 'x', written_by: 't' } };
  const probe = { master: 'john', answer: { sees: true, detail: 'answers SELECT 1' }, at: '2026-12-04T11:59:59Z' };
  it('carries the probe and the time; the time alone is no change', () => {
    const a = memberRecord('paul', { state: 'running', writable: false }, facts, master, probe, '2026-12-04T12:00:00Z');
    const b = memberRecord('paul', { state: 'running', writable: false }, facts, master, probe, '2026-12-04T12:00:01Z');
    assert.equal(a.sees_master, true);
    assert.equal(a.master_probed, 'john');
    assert.equal(a.probed_at, '2026-12-04T11:59:59Z', 'the time of the probe, not of the publication');
    assert.equal(recordContent(a), recordContent(b));
    const c = memberRecord('paul', { state: 'running', writable: false }, facts, master, { master: 'john', answer: { sees: false, detail: 'connection refused' }, at: '2026-12-04T12:00:01Z' }, '2026-12-04T12:00:01Z');
    assert.notEqual(recordContent(a), recordContent(c));
  });
  it('no probe → sees_master null (unknown, never "does not see")', () => {
    const a = memberRecord('john', { state: 'running', writable: true }, { ...facts, in_recovery: false }, master, null, '2026-12-04T12:00:00Z');
    assert.equal(a.sees_master, null);
  });
});

describe('/primary as of the request', () => {
  const confirmed: HealthFacts = { node: 'john', running: true, writable: true, primaryConfirmed: true, lagBytes: null, masterLagBytes: null, timeline: 1, recordedMaster: 'john', lastReason: 'master_is_us', roundsTotal: 1, demotionsTotal: 0, leaseRenewedAtMs: null };
  const rows: ReadonlyArray<[string, boolean, boolean, number]> = [
    ['lease fresh, no fence', true, false, 200],
    ['lease went stale since the round', false, false, 503],
    ['fence under way', true, true, 503],
  ];
  for (const [label, fresh, fencing, expected] of rows) {
    it(`${label} → ${expected}`, () => assert.equal(healthReply('/primary', factsNow(confirmed, fresh, fencing)).status, expected));
  }
});
