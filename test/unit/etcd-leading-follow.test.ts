/**
 * A follower's store read racing a won leadership (src/api/etcd-leading.ts follow()): the state
 * read before this controller won must not be adopted after it (won() re-read it and recovered).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfig } from '../../src/config/load.js';
import { leadingHooks, type LeadingDeps } from '../../src/api/etcd-leading.js';
import { serversFromConfig } from '../../src/runtime/state-sync.js';
import type { SavedState } from '../../src/store/saved-state.js';

const CONFIG = parseConfig('servers: {john: {hostname: h-john, role: master}, paul: {hostname: h-paul, role: replica}}\n', 'test.yaml');
const NOW = '2026-12-04T10:00:00.000Z';
const state = {
  format: 'handyrep-state', version: 7, updated_ms: 1_700_000_000_000,
  servers: serversFromConfig(CONFIG, NOW), status: { status: 'healthy', status_no: 1, status_message: 'ok', status_ts: NOW }, history: [],
} as unknown as SavedState;

/** A follower whose store read resolves when `release` is called; `winDuringRead` makes it lead meanwhile. */
function follower(stored: SavedState | null = state): { hooks: ReturnType<typeof leadingHooks>; adopted: number[]; notes: string[]; lead: () => void; release: () => void; reading: Promise<void> } {
  const adopted: number[] = [];
  const notes: string[] = [];
  let current: { term: string } | null = null;
  let release = (): void => undefined;
  let started = (): void => undefined;
  const reading = new Promise<void>((r) => (started = r));
  const gate = new Promise<void>((r) => (release = r));
  const etcd = {
    controllerId: 'ctl-a',
    ctx: { keys: { prefix: '/handyrep/test/' } },
    leadership: { get current() { return current; } },
    store: { readState: async () => (started(), await gate, stored ? { kind: 'ok' as const, state: stored } : { kind: 'missing' as const }) },
    refreshLeader: async () => undefined,
    noteRead: () => notes.push('read'),
    noteStale: (why: string) => notes.push(`stale: ${why}`),
  };
  const deps = {
    etcd,
    book: { adoptStored: (init: { version: number }) => adopted.push(init.version) },
    persister: { raiseVersion: () => undefined },
    log: { info: () => undefined, warn: () => undefined, error: () => undefined },
    config: () => CONFIG,
    clock: () => new Date(NOW),
  } as unknown as LeadingDeps;
  return { hooks: leadingHooks(deps), adopted, notes, lead: () => (current = { term: '9' }), release, reading };
}

test('follow: a read that lands while still following is adopted', async () => {
  const f = follower();
  const done = f.hooks.follow();
  await f.reading;
  f.release();
  await done;
  assert.deepEqual(f.adopted, [7]);
  assert.deepEqual(f.notes, ['read']);
});

test('follow: a read that lands after this controller won is not adopted', async () => {
  const f = follower();
  const done = f.hooks.follow();
  await f.reading;
  f.lead();
  f.release();
  await done;
  assert.deepEqual(f.adopted, []);
});

test('follow: a store without a state adopts nothing and reports the data stale, not fresh', async () => {
  const f = follower(null);
  const done = f.hooks.follow();
  await f.reading;
  f.release();
  await done;
  assert.deepEqual(f.adopted, []);
  assert.equal(f.notes.length, 1);
  assert.match(f.notes[0] ?? '', /^stale: the etcd store holds no state yet/);
});

test('won: a damaged state in etcd is neither written back nor monitored; the controller holds off', async () => {
  const calls: string[] = [];
  const etcd = {
    controllerId: 'ctl-a',
    ctx: { keys: { prefix: '/handyrep/test/' } },
    leadership: { current: { term: '9' } },
    store: { readState: async () => ({ kind: 'invalid' as const, reason: 'not JSON' }), recordControllerEvent: async () => calls.push('history'), readJournal: async () => null },
    noteRead: () => calls.push('read'),
    holdOff: (why: string) => calls.push(`hold off: ${why}`),
  };
  const deps = {
    etcd,
    book: { adoptStored: () => calls.push('adopted'), masterName: () => 'john', syncRecord: () => null, names: () => ['john'] },
    persister: { raiseVersion: () => undefined, request: async () => calls.push('written') },
    log: { info: () => undefined, warn: () => undefined, error: () => undefined },
    config: () => CONFIG,
    clock: () => new Date(NOW),
    masterTimeline: async () => 1,
    startMonitor: () => calls.push('monitoring'),
  } as unknown as LeadingDeps;
  await leadingHooks(deps).won({ term: '9' } as never);
  assert.equal(calls.length, 1, calls.join(', '));
  assert.match(calls[0] ?? '', /^hold off: the state in etcd is damaged \(.*not JSON.*\): not writing it, not monitoring/);
});
