/** The dashboard's parts without a browser: the event ring (Last-Event-ID replay), the hub without clients, sessions, the cookie, the series. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventRing, sseFrame } from '../../src/daemon/dashboard/event-ring.js';
import { csrfMatches, SessionStore } from '../../src/daemon/dashboard/sessions.js';
import { sessionCookie, sessionIdOf } from '../../src/daemon/dashboard/cookies.js';
import { DashboardSeries } from '../../src/daemon/dashboard/series.js';
import { DashboardHub, REPLAY_GRACE_MS } from '../../src/daemon/dashboard/event-hub.js';
import type { DaemonBackend } from '../../src/daemon/backend.js';
import type { LogEntry } from '../../src/log/event-log.js';

test('the ring replays what a client missed, and a snapshot when it cannot', () => {
  const ring = new EventRing(3);
  assert.deepEqual(ring.since(undefined), { kind: 'snapshot' });
  const a = ring.push('log', { n: 1 });
  const b = ring.push('log', { n: 2 });
  assert.deepEqual(ring.since(a.id), { kind: 'events', events: [b] });
  assert.deepEqual(ring.since(b.id), { kind: 'events', events: [] });
  ring.push('log', { n: 3 });
  ring.push('log', { n: 4 });
  ring.push('log', { n: 5 });
  assert.deepEqual(ring.since(a.id), { kind: 'snapshot' }, 'the events after it were dropped');
  assert.equal((ring.since(b.id) as { events: unknown[] }).events.length, 3);
  assert.deepEqual(ring.since('other.2'), { kind: 'snapshot' }, 'another boot');
  assert.deepEqual(ring.since('garbage'), { kind: 'snapshot' });
  assert.deepEqual(ring.since(`${b.id.split('.')[0]}.99`), { kind: 'snapshot' }, 'an id from the future');
  const c = ring.push('log', { n: 6 });
  ring.requireSnapshot();
  assert.deepEqual(ring.since(c.id), { kind: 'snapshot' }, 'a change went unrecorded after it');
  const d = ring.push('log', { n: 7 });
  assert.deepEqual(ring.since(d.id), { kind: 'events', events: [] });
});

test('the ring is bounded by bytes too', () => {
  const ring = new EventRing(100, 50);
  const a = ring.push('state', { pad: 'x'.repeat(20) });
  const b = ring.push('state', { pad: 'y'.repeat(20) });
  ring.push('state', { pad: 'z'.repeat(20) });
  assert.deepEqual(ring.since(a.id), { kind: 'snapshot' });
  assert.equal((ring.since(b.id) as { events: unknown[] }).events.length, 1);
});

test('an SSE frame carries id, event and one line of JSON data', () => {
  const ring = new EventRing(2);
  const event = ring.push('log', { message: 'two\nlines <b>' });
  assert.equal(sseFrame(event), `id: ${event.id}\nevent: log\ndata: {"message":"two\\nlines <b>"}\n\n`);
});

test('sessions end after the idle time and compare CSRF tokens exactly', () => {
  let now = 0;
  const store = new SessionStore(() => 1000, () => now);
  const { id, session } = store.create('read', new Set(['get_status']));
  assert.equal(store.find(id).kind, 'live');
  now = 900;
  assert.equal(store.find(id).kind, 'live', 'a request refreshes it');
  now = 1800;
  assert.equal(store.find(id).kind, 'live');
  now = 2801;
  assert.equal(store.find(id).kind, 'ended');
  assert.equal(store.find(null).kind, 'none');
  assert.equal(csrfMatches(session, session.csrf), true);
  assert.equal(csrfMatches(session, `${session.csrf}x`), false);
  assert.equal(csrfMatches(session, undefined), false);
});

test('the session cookie is HttpOnly and SameSite=Strict; malformed values are ignored', () => {
  assert.equal(sessionCookie('a'.repeat(43), true), `handyrep_session=${'a'.repeat(43)}; Path=/; HttpOnly; SameSite=Strict; Secure`);
  assert.equal(sessionIdOf(`x=1; handyrep_session=${'b'.repeat(43)}`), 'b'.repeat(43));
  assert.equal(sessionIdOf('handyrep_session=<script>'), null);
  assert.equal(sessionIdOf(undefined), null);
});

test('series keep an hour, lag sampled at most every 2 s per server', () => {
  let now = 1_000_000;
  const series = new DashboardSeries(() => now);
  assert.deepEqual(Object.keys(series.recordLag([{ server: 'paul', lagMb: 1, lagSeconds: 0 }])), ['paul']);
  assert.deepEqual(series.recordLag([{ server: 'paul', lagMb: 2, lagSeconds: 0 }]), {}, 'too soon');
  series.recordCheck('paul', 12);
  now += 3_700_000;
  series.recordCheck('paul', 13);
  assert.deepEqual(series.snapshot().checks['paul'], [[now / 1000, 13]]);
});

test('no operation is shadowed by a dashboard route', async () => {
  const { OPERATIONS } = await import('../../src/api/operations.js');
  const dashboardPaths = ['login', 'logout', 'session', 'basic-login', 'events', 'assets'];
  assert.deepEqual(OPERATIONS.filter((o) => dashboardPaths.includes(o.name)).map((o) => o.name), []);
});

test('a hub keeps events for a returning client for a while, then none until a client comes', () => {
  const logListeners: ((e: LogEntry) => void)[] = [];
  const backend: DaemonBackend = {
    invoke: async () => ({}),
    monitorStatus: () => ({ running: true, cycles: 0, errors: 0, last_error: null, last_cycle_ts: null, last_result: null, last_duration_ms: null }),
    stateRevision: () => 0,
    onCheck: () => undefined,
    onFailover: () => undefined,
    onStateChange: () => undefined,
    onLogEntry: (l) => logListeners.push(l),
    log: { info: () => undefined, warn: () => undefined, error: () => undefined },
    configFile: 'handyrep.yaml',
  };
  let nowMs = 1_000_000;
  const hub = new DashboardHub(backend, () => nowMs);
  const log = (message: string): void => logListeners.forEach((l) => l({ ts: '2026-12-04T00:00:00Z', level: 'info', category: 'TEST', message }));
  log('before anyone watched');
  assert.equal(hub.ring.lastId, null, 'never watched: nothing kept');
  const sent: string[] = [];
  const unsubscribe = hub.subscribe({ write: (f) => (sent.push(f), true), close: () => undefined });
  log('watched');
  assert.equal(sent.length, 1);
  const lastSeen = hub.ring.lastId ?? '';
  unsubscribe();
  nowMs += REPLAY_GRACE_MS - 1;
  log('missed, within the grace period');
  const replay = hub.ring.since(lastSeen);
  assert.equal(replay.kind, 'events', 'a client back soon resumes');
  assert.equal(replay.kind === 'events' ? replay.events.length : -1, 1);
  const keptId = hub.ring.lastId ?? '';
  nowMs += 2;
  log('nobody watches any more');
  assert.equal(hub.ring.lastId, keptId, 'not kept after the grace period');
  assert.deepEqual(hub.ring.since(keptId), { kind: 'snapshot' }, 'a client back from before starts from a snapshot');
  const joined = hub.keepEventsWhileJoining();
  const before = hub.ring.lastId;
  log('while a client reads its snapshot');
  joined();
  const afterSnapshot = hub.ring.sinceSnapshot(before);
  assert.equal(afterSnapshot.kind === 'events' ? afterSnapshot.events.length : -1, 1, 'a joining client gets what happened during its snapshot read');
  hub.close();
});
