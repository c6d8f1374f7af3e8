import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nextSession, retryOnNewSession, type SessionEvent, type SessionPhase } from '../../src/engine/monitor-session.js';

type Row = [SessionPhase, SessionEvent, SessionPhase, { open?: boolean; end?: boolean; wake?: boolean }];

const rows: Row[] = [
  ['none', 'query', 'connecting', { open: true }],
  ['closed', 'query', 'connecting', { open: true }],
  ['open', 'query', 'open', {}],
  ['connecting', 'query', 'connecting', {}],
  ['connecting', 'connected', 'open', {}],
  ['closed', 'connected', 'closed', { end: true }],
  ['connecting', 'connect_failed', 'none', {}],
  // A live session dropped by the server: the monitor is woken, the next query reconnects.
  ['open', 'lost', 'none', { end: true, wake: true }],
  // A loss after the session was given up (timeout, close, failed query) is no news.
  ['none', 'lost', 'none', {}],
  ['closed', 'lost', 'closed', {}],
  ['connecting', 'lost', 'connecting', {}],
  ['open', 'query_timeout', 'none', { end: true }],
  ['open', 'query_failed', 'none', { end: true }],
  ['none', 'query_failed', 'none', {}],
  ['open', 'close', 'closed', { end: true }],
  ['none', 'close', 'closed', {}],
  ['connecting', 'close', 'closed', {}],
];

for (const [from, event, to, effects] of rows) {
  test(`monitoring session: ${from} + ${event} → ${to}${effects.wake ? ', wakes the monitor' : ''}`, () => {
    assert.deepEqual(nextSession(from, event), { phase: to, open: effects.open ?? false, end: effects.end ?? false, wake: effects.wake ?? false });
  });
}

test('a failed query is tried once on a new session only when the old session failed for a reason other than silence', () => {
  assert.equal(retryOnNewSession('other', true), true, 'a reused session cut while idle (restart, reset): a new connect tells what the server is now');
  assert.equal(retryOnNewSession('other', false), false, 'a session just opened already told');
  assert.equal(retryOnNewSession('timeout', true), false, 'a silent server costs one timeout, not two');
  assert.equal(retryOnNewSession('timeout', false), false);
});
