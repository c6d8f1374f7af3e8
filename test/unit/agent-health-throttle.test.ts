/**
 * The agents' password throttle (health-throttle.ts, review F6): wrong passwords hold back the
 * sources that sent them, never a source that did not fail (HAProxy's checks).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HealthAuth } from '../../src/agent/health-auth.js';
import { HealthThrottle, type HealthThrottleOptions } from '../../src/agent/health-throttle.js';
import { parseConfig } from '../../src/config/load.js';

const OPTIONS: HealthThrottleOptions = { baseMs: 100, maxMs: 2000, perSourceLimit: 10, globalLimit: 100, windowMs: 60_000, maxPending: 64 };

function throttle(now: { ms: number }, options: Partial<HealthThrottleOptions> = {}): HealthThrottle {
  return new HealthThrottle({ ...OPTIONS, ...options, now: () => now.ms });
}

/** `count` wrong passwords from `source`, each admitted and settled (refusals are not counted). */
function fail(t: HealthThrottle, source: string, count: number): number {
  let refused = 0;
  for (let i = 0; i < count; i += 1) {
    const a = t.admit(source, true);
    if (a.kind === 'refuse') refused += 1;
    else t.settle(a, true);
  }
  return refused;
}

describe('agent health throttle: only failing sources are held back', () => {
  it('100 wrong passwords from many addresses, then a client that never failed → admitted at once (the daemon throttle refused it)', () => {
    const now = { ms: 0 };
    const t = throttle(now);
    for (let i = 0; i < 10; i += 1) fail(t, `10.0.1.${i}`, 10);
    const haproxy = t.admit('10.0.0.5', true);
    assert.equal(haproxy.kind, 'check');
    assert.equal(haproxy.kind === 'check' ? haproxy.delayMs : -1, 0);
  });
  it('the global limit reached: a source that failed once is refused, a fresh source gets its one guess', () => {
    const now = { ms: 0 };
    const t = throttle(now);
    for (let i = 0; i < 10; i += 1) fail(t, `10.0.1.${i}`, 10);
    assert.deepEqual(t.admit('10.0.1.0', true), { kind: 'refuse', why: 'source', retryAfterSeconds: 60 });
    const fresh = t.admit('10.0.2.1', true);
    assert.equal(fresh.kind, 'check');
    if (fresh.kind === 'check') t.settle(fresh, true);
    assert.equal(t.admit('10.0.2.1', true).kind, 'refuse');
  });
  it('a source at its own limit is refused; another source is not', () => {
    const now = { ms: 0 };
    const t = throttle(now);
    assert.equal(fail(t, '10.0.0.9', 10), 0);
    assert.equal(t.admit('10.0.0.9', true).kind, 'refuse');
    assert.equal(t.admit('10.0.0.8', true).kind, 'check');
  });
  it('a failing source waits, doubled per failure; a correct one does not', () => {
    const now = { ms: 0 };
    const t = throttle(now);
    fail(t, '10.0.0.9', 3);
    const next = t.admit('10.0.0.9', true);
    assert.equal(next.kind === 'check' ? next.delayMs : -1, 400);
    const clean = t.admit('10.0.0.5', true);
    assert.equal(clean.kind === 'check' ? clean.delayMs : -1, 0);
  });
  it('failures age out of the window', () => {
    const now = { ms: 0 };
    const t = throttle(now);
    fail(t, '10.0.0.9', 10);
    now.ms = 60_001;
    const again = t.admit('10.0.0.9', true);
    assert.equal(again.kind === 'check' ? again.delayMs : -1, 0);
  });
  it('a burst of parallel guesses from a fresh source meets its limit (in flight counts)', () => {
    const t = throttle({ ms: 0 });
    const kinds = Array.from({ length: 12 }, () => t.admit('10.0.0.9', true).kind);
    assert.deepEqual(kinds.filter((k) => k === 'check').length, 10);
  });
  it('requests without credentials are never counted', () => {
    const t = throttle({ ms: 0 });
    for (let i = 0; i < 50; i += 1) assert.equal(t.admit('10.0.0.9', false).kind, 'check');
    assert.equal(t.admit('10.0.0.9', true).kind, 'check');
  });
});

describe('agent health auth with require_password (HealthAuth, review F6 row)', () => {
  it('100 wrong attempts from 10.0.0.x, then the correct read password from 10.0.0.5 → admitted', async () => {
    const cfg = parseConfig(
      'servers: {john: {hostname: 127.0.0.11, role: master}}\npasswords: {admin_password: adminpw, read_password: readpw}\nagent: {require_password: true}\ndaemon: {auth_failure_delay_seconds: 0}\n',
      'test.yaml',
    );
    const auth = new HealthAuth(cfg);
    const basic = (password: string): string => `Basic ${Buffer.from(`haproxy:${password}`).toString('base64')}`;
    const wrong = await Promise.all(Array.from({ length: 100 }, (_, i) => auth.check(basic('guess'), `10.0.0.${100 + (i % 10)}`)));
    assert.ok(wrong.every((o) => !o.ok));
    assert.ok(wrong.some((o) => !o.ok && o.status === 401));
    const later = await auth.check(basic('guess'), '10.0.0.100');
    assert.equal(later.ok ? 200 : later.status, 429);
    const haproxy = await auth.check(basic('readpw'), '10.0.0.5');
    assert.equal(haproxy.ok ? 200 : haproxy.status, 200);
  });
});
