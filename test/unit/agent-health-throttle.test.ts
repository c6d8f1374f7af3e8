/**
 * The agents' password throttle (health-throttle.ts, reviews F6, X1, X2): wrong passwords hold
 * back their sources, the global limit holds back every source that did not prove the password,
 * and an exact address that proved it (HAProxy) is never held back by what others send.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { exactAddress, HealthAuth } from '../../src/agent/health-auth.js';
import { HealthThrottle, type HealthSource, type HealthThrottleOptions } from '../../src/agent/health-throttle.js';
import { parseConfig } from '../../src/config/load.js';
import { addressPrefix } from '../../src/daemon/address-prefix.js';

const OPTIONS: HealthThrottleOptions = { baseMs: 100, maxMs: 2000, perSourceLimit: 10, globalLimit: 100, windowMs: 60_000, maxPending: 64 };
const from = (address: string): HealthSource => ({ prefix: addressPrefix(address), exact: exactAddress(address) });

function throttle(now: { ms: number }, options: Partial<HealthThrottleOptions> = {}): HealthThrottle {
  return new HealthThrottle({ ...OPTIONS, ...options, now: () => now.ms });
}

/** `count` wrong passwords from `address`, each admitted and settled; returns how many were refused. */
function fail(t: HealthThrottle, address: string, count: number): number {
  let refused = 0;
  for (let i = 0; i < count; i += 1) {
    const a = t.admit(from(address), true);
    if (a.kind === 'refuse') refused += 1;
    else t.settle(a, 'wrong');
  }
  return refused;
}

/** One correct password from `address` (it proves itself). */
function prove(t: HealthThrottle, address: string): void {
  const a = t.admit(from(address), true);
  assert.equal(a.kind, 'check', `${address} admitted to prove itself`);
  if (a.kind === 'check') t.settle(a, 'proven');
}

describe('agent health throttle', () => {
  it('X1: the global limit reached → a fresh address is refused (no undelayed guess per new address)', () => {
    const t = throttle({ ms: 0 });
    for (let i = 0; i < 10; i += 1) fail(t, `10.0.1.${i}`, 10);
    let admitted = 0;
    for (let i = 0; i < 1000; i += 1) if (t.admit(from(`10.9.${i >> 8}.${i & 255}`), true).kind === 'check') admitted += 1;
    assert.equal(admitted, 0);
  });
  it('F6: the global limit reached → HAProxy, proven before, is admitted at once', () => {
    const t = throttle({ ms: 0 });
    prove(t, '10.0.0.5');
    for (let i = 0; i < 10; i += 1) fail(t, `10.0.1.${i}`, 10);
    const haproxy = t.admit(from('10.0.0.5'), true);
    assert.equal(haproxy.kind, 'check');
    assert.equal(haproxy.kind === 'check' ? haproxy.delayMs : -1, 0);
  });
  it('X2: 10 wrong passwords from a host in HAProxy\'s IPv6 /64 → HAProxy (proven, no failures of its own) still admitted; the guesser refused', () => {
    const t = throttle({ ms: 0 });
    prove(t, '2001:db8:0:1::10');
    fail(t, '2001:db8:0:1::99', 10);
    const haproxy = t.admit(from('2001:db8:0:1::10'), true);
    assert.equal(haproxy.kind === 'check' ? haproxy.delayMs : -1, 0);
    assert.equal(t.admit(from('2001:db8:0:1::99'), true).kind, 'refuse');
  });
  it('a proven address that then sends a wrong password loses its exemption', () => {
    const t = throttle({ ms: 0 });
    prove(t, '10.0.0.5');
    const wrong = t.admit(from('10.0.0.5'), true);
    if (wrong.kind === 'check') t.settle(wrong, 'wrong');
    const next = t.admit(from('10.0.0.5'), true);
    assert.equal(next.kind === 'check' ? next.delayMs : -1, 100, 'slowed like any failing source');
  });
  it('proof ages out with the window', () => {
    const now = { ms: 0 };
    const t = throttle(now);
    prove(t, '10.0.0.5');
    now.ms = 60_001;
    for (let i = 0; i < 10; i += 1) fail(t, `10.0.1.${i}`, 10);
    assert.equal(t.admit(from('10.0.0.5'), true).kind, 'refuse');
  });
  it('a source at its own limit is refused; another source is not', () => {
    const t = throttle({ ms: 0 });
    assert.equal(fail(t, '10.0.0.9', 10), 0);
    assert.equal(t.admit(from('10.0.0.9'), true).kind, 'refuse');
    assert.equal(t.admit(from('10.0.0.8'), true).kind, 'check');
  });
  it('a failing source waits, doubled per failure; a fresh one does not (below the global limit)', () => {
    const t = throttle({ ms: 0 });
    fail(t, '10.0.0.9', 3);
    const next = t.admit(from('10.0.0.9'), true);
    assert.equal(next.kind === 'check' ? next.delayMs : -1, 400);
    const clean = t.admit(from('10.0.0.5'), true);
    assert.equal(clean.kind === 'check' ? clean.delayMs : -1, 0);
  });
  it('failures age out of the window', () => {
    const now = { ms: 0 };
    const t = throttle(now);
    fail(t, '10.0.0.9', 10);
    now.ms = 60_001;
    const again = t.admit(from('10.0.0.9'), true);
    assert.equal(again.kind === 'check' ? again.delayMs : -1, 0);
  });
  it('a burst of parallel guesses from a fresh source meets its limit (in flight counts)', () => {
    const t = throttle({ ms: 0 });
    const kinds = Array.from({ length: 12 }, () => t.admit(from('10.0.0.9'), true).kind);
    assert.equal(kinds.filter((k) => k === 'check').length, 10);
  });
  it('requests without credentials are never counted', () => {
    const t = throttle({ ms: 0 });
    for (let i = 0; i < 50; i += 1) assert.equal(t.admit(from('10.0.0.9'), false).kind, 'check');
    assert.equal(t.admit(from('10.0.0.9'), true).kind, 'check');
  });
  it('exact addresses: IPv4-mapped as IPv4, zone dropped', () => {
    assert.equal(exactAddress('::ffff:10.0.0.5'), '10.0.0.5');
    assert.equal(exactAddress('fe80::1%eth0'), 'fe80::1');
  });
});

describe('agent health auth with require_password (HealthAuth)', () => {
  const cfg = parseConfig(
    'servers: {john: {hostname: 127.0.0.11, role: master}}\npasswords: {admin_password: adminpw, read_password: readpw}\nagent: {require_password: true}\ndaemon: {auth_failure_delay_seconds: 0}\n',
    'test.yaml',
  );
  const basic = (password: string): string => `Basic ${Buffer.from(`haproxy:${password}`).toString('base64')}`;
  it('HAProxy checked once, then 100 wrong attempts from 10.0.0.x: HAProxy still 200, the guessers and a fresh address 429', async () => {
    const auth = new HealthAuth(cfg);
    assert.ok((await auth.check(basic('readpw'), '10.0.0.5')).ok);
    const wrong = await Promise.all(Array.from({ length: 100 }, (_, i) => auth.check(basic('guess'), `10.0.0.${100 + (i % 10)}`)));
    assert.ok(wrong.every((o) => !o.ok));
    const later = await auth.check(basic('guess'), '10.0.0.100');
    assert.equal(later.ok ? 200 : later.status, 429);
    const fresh = await auth.check(basic('guess'), '10.0.3.3');
    assert.equal(fresh.ok ? 200 : fresh.status, 429);
    const haproxy = await auth.check(basic('readpw'), '::ffff:10.0.0.5');
    assert.equal(haproxy.ok ? 200 : haproxy.status, 200);
  });
});
