/** The password-guessing policy (auth-throttle.ts) and its counting unit (address-prefix.ts), row by row. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { addressPrefix } from '../../src/daemon/address-prefix.js';
import { verdictOf } from '../../src/daemon/auth-gate.js';
import { FailureThrottle, type Admission, type AttemptVerdict, type ThrottleOptions } from '../../src/daemon/auth-throttle.js';

/** A throttle on a clock the rows move by hand. */
function throttle(options: Partial<ThrottleOptions> = {}): { t: FailureThrottle; clock: { now: number } } {
  const clock = { now: 1_000_000 };
  const t = new FailureThrottle({ baseMs: 100, maxMs: 1000, perPrefixLimit: 0, globalLimit: 0, maxPending: 0, ...options, now: () => clock.now });
  return { t, clock };
}

/** Admit and settle at once (a sequential caller); the admission as seen before the check. */
function attempt(t: FailureThrottle, prefix: string, verdict: AttemptVerdict, withPassword = true): Admission {
  const admission = t.admit(prefix, withPassword);
  if (admission.kind === 'check') t.settle(admission, verdict);
  return admission;
}

const shown = (a: Admission): string => (a.kind === 'check' ? `wait ${a.delayMs}` : `429 ${a.reason} ${a.retryAfterSeconds}s`);

test('address prefixes: IPv4 /32, IPv6 /64, IPv4-mapped as IPv4, zones dropped, anything else as given', () => {
  const rows: [string, string][] = [
    ['192.0.2.7', '192.0.2.7'],
    ['::ffff:192.0.2.7', '192.0.2.7'],
    ['::FFFF:c000:0207', '192.0.2.7'],
    ['2001:db8:1:2:3:4:5:6', '2001:db8:1:2::/64'],
    ['2001:db8:1:2::9', '2001:db8:1:2::/64'],
    ['2001:0DB8:0001:0002:ffff::1', '2001:db8:1:2::/64'],
    ['2001:db8::1', '2001:db8:0:0::/64'],
    ['2001:db8:0:3::1', '2001:db8:0:3::/64'],
    ['::1', '0:0:0:0::/64'],
    ['fe80::1%eth0', 'fe80:0:0:0::/64'],
    ['::ffff:0:1.2.3.4', '0:0:0:0::/64'],
    ['not-an-address', 'not-an-address'],
  ];
  for (const [address, prefix] of rows) assert.equal(addressPrefix(address), prefix, address);
  assert.equal(addressPrefix('2001:db8:1:2::1'), addressPrefix('2001:db8:1:2:ffff:ffff:ffff:fffe'), 'one /64, one counter');
  assert.notEqual(addressPrefix('2001:db8:1:2::1'), addressPrefix('2001:db8:1:3::1'));
});

test('sequential wrong passwords: the delay doubles up to the cap; other prefixes are not affected', () => {
  const { t } = throttle();
  const delays = Array.from({ length: 7 }, () => shown(attempt(t, 'a', 'wrong-password')));
  assert.deepEqual(delays, ['wait 0', 'wait 100', 'wait 200', 'wait 400', 'wait 800', 'wait 1000', 'wait 1000']);
  assert.equal(shown(t.admit('b', true)), 'wait 0');
});

test('rows: what each sequence of verdicts leaves for the next request from the prefix', () => {
  const rows: { name: string; verdicts: AttemptVerdict[]; next: string }[] = [
    { name: 'nothing yet', verdicts: [], next: 'wait 0' },
    { name: 'two wrong', verdicts: ['wrong-password', 'wrong-password'], next: 'wait 200' },
    { name: 'at the limit: refused, retry when the oldest leaves the window', verdicts: ['wrong-password', 'wrong-password', 'wrong-password'], next: '429 address 60s' },
    { name: 'the read password clears nothing', verdicts: ['wrong-password', 'wrong-password', 'proven-read'], next: 'wait 200' },
    { name: 'a read password between admin guesses does not reset', verdicts: ['wrong-password', 'proven-read', 'wrong-password', 'proven-read', 'wrong-password'], next: '429 address 60s' },
    { name: 'a proven admin password clears', verdicts: ['wrong-password', 'wrong-password', 'proven-admin'], next: 'wait 0' },
    { name: 'other outcomes count nothing', verdicts: ['other', 'other', 'other', 'other'], next: 'wait 0' },
  ];
  for (const row of rows) {
    const { t } = throttle({ perPrefixLimit: 3 });
    for (const verdict of row.verdicts) assert.equal(attempt(t, 'p', verdict).kind, 'check', `${row.name}: every step admitted`);
    assert.equal(shown(t.admit('p', true)), row.next, row.name);
  }
});

test('attempts in flight count: parallel guesses beyond the limit are refused before any check', () => {
  const { t } = throttle({ perPrefixLimit: 3 });
  const admissions = Array.from({ length: 6 }, () => t.admit('p', true));
  assert.deepEqual(admissions.map(shown), ['wait 0', 'wait 100', 'wait 200', '429 address 1s', '429 address 1s', '429 address 1s']);
  for (const a of admissions) if (a.kind === 'check') t.settle(a, 'wrong-password');
  assert.equal(shown(t.admit('p', true)), '429 address 60s');
});

test('the window: failures age out', () => {
  const { t, clock } = throttle({ perPrefixLimit: 2, windowMs: 60_000 });
  attempt(t, 'p', 'wrong-password');
  clock.now += 30_000;
  attempt(t, 'p', 'wrong-password');
  assert.equal(shown(t.admit('p', true)), '429 address 30s', 'the first leaves the window 30 s from now');
  clock.now += 30_001;
  assert.equal(shown(t.admit('p', true)), 'wait 100', 'one left in the window');
});

test('the global limit holds across prefixes (IPv6 rotation over many /64s); it only ages out', () => {
  const { t, clock } = throttle({ perPrefixLimit: 10, globalLimit: 4 });
  for (const prefix of ['a', 'b', 'c']) attempt(t, prefix, 'wrong-password');
  const inFlight = t.admit('d', true);
  assert.equal(shown(t.admit('e', true)), '429 global 60s');
  assert.equal(inFlight.kind, 'check');
  if (inFlight.kind === 'check') t.settle(inFlight, 'proven-admin');
  assert.equal(shown(t.admit('e', true)), 'wait 0', 'the attempt in flight ended without a failure');
  attempt(t, 'e', 'wrong-password');
  attempt(t, 'e', 'proven-admin');
  assert.equal(shown(t.admit('f', true)), '429 global 60s', 'an admin success clears its prefix, not the global count');
  clock.now += 60_001;
  assert.equal(shown(t.admit('f', true)), 'wait 0');
});

test('parallel requests waiting for their decision are capped, with or without credentials', () => {
  const { t } = throttle({ maxPending: 2 });
  const first = t.admit('a', false);
  t.admit('b', true);
  assert.equal(shown(t.admit('c', false)), '429 parallel 1s');
  assert.equal(t.pending, 2);
  if (first.kind === 'check') t.settle(first, 'other');
  assert.equal(shown(t.admit('c', false)), 'wait 0');
});

test('requests without credentials never count; the table of prefixes is bounded', () => {
  const { t } = throttle({ perPrefixLimit: 1, maxPrefixes: 2 });
  for (let i = 0; i < 50; i += 1) assert.equal(shown(attempt(t, 'p', 'other', false)), 'wait 0');
  for (const prefix of ['x', 'y', 'z']) attempt(t, prefix, 'wrong-password');
  assert.equal(shown(t.admit('x', true)), 'wait 0', 'the least recently seen of three was dropped');
  assert.equal(shown(t.admit('z', true)), '429 address 60s');
});

test('verdicts: 401 is a wrong password, 403 a right one for the wrong function; admin is proven on admin functions or by the admin user', () => {
  const rows: [Parameters<typeof verdictOf>[0], 'read' | 'admin', AttemptVerdict][] = [
    [{ ok: false, status: 401, reason: 'password rejected' }, 'read', 'wrong-password'],
    [{ ok: false, status: 401, reason: 'password rejected' }, 'admin', 'wrong-password'],
    [{ ok: false, status: 403, reason: 'needs admin' }, 'admin', 'proven-read'],
    [{ ok: true, user: 'read' }, 'read', 'proven-read'],
    [{ ok: true, user: 'admin' }, 'read', 'proven-admin'],
    [{ ok: true, user: 'alice' }, 'admin', 'proven-admin'],
  ];
  for (const [outcome, access, expected] of rows) assert.equal(verdictOf(outcome, { access }), expected, JSON.stringify([outcome, access]));
});
