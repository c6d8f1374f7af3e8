/**
 * Which controller may act when several watch one cluster without etcd: the earliest started
 * among those alive; heartbeats merged from several servers' copies.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mergeHeartbeats, seniority } from '../../src/engine/controller-seniority.js';
import type { ControllerHeartbeat } from '../../src/model/controller-heartbeat.js';

const beat = (id: string, started: number, heartbeat: number): ControllerHeartbeat => ({ id, hostname: `host-${id}`, pid: 100, state_file: `/s/${id}`, started_ms: started, heartbeat_ms: heartbeat });
const NOW = 1_000_000;
const FRESH = 30_000;

type Row = [label: string, self: { id: string; started_ms: number }, beats: ControllerHeartbeat[], acts: boolean, holder?: string];

const ROWS: Row[] = [
  ['alone', { id: 'b', started_ms: 500 }, [], true],
  ['only its own row', { id: 'b', started_ms: 500 }, [beat('b', 500, NOW)], true],
  ['an earlier controller alive', { id: 'b', started_ms: 500 }, [beat('a', 100, NOW - 1000)], false, 'a'],
  ['an earlier controller, heartbeat exactly at the limit', { id: 'b', started_ms: 500 }, [beat('a', 100, NOW - FRESH)], false, 'a'],
  ['an earlier controller gone quiet', { id: 'b', started_ms: 500 }, [beat('a', 100, NOW - FRESH - 1)], true],
  ['a later controller alive', { id: 'a', started_ms: 100 }, [beat('b', 500, NOW)], true],
  ['same start, smaller id wins', { id: 'b', started_ms: 100 }, [beat('a', 100, NOW)], false, 'a'],
  ['its own row from before a restart (same persistent id) never blocks', { id: 'a', started_ms: 100 }, [beat('a', 100, NOW - 5000)], true],
  ['same host and state file path but another identity is a rival', { id: 'b', started_ms: 500 }, [{ ...beat('a', 100, NOW), hostname: 'host-b', state_file: '/s/b' }], false, 'a'],
  ['two earlier ones: the earliest holds', { id: 'c', started_ms: 900 }, [beat('b', 500, NOW), beat('a', 100, NOW)], false, 'a'],
];

for (const [label, self, beats, acts, holder] of ROWS) {
  test(`seniority: ${label}`, () => {
    const verdict = seniority(self, Object.freeze(beats), NOW, FRESH);
    assert.equal(verdict.acts, acts);
    if (!verdict.acts) {
      assert.equal(verdict.holder.id, holder);
      assert.match(verdict.reason, /pid 100 on host-/);
    }
  });
}

test('the newest heartbeat of each controller wins across copies', () => {
  const merged = mergeHeartbeats([[beat('a', 1, 10), beat('b', 2, 50)], [beat('a', 1, 40)], []]);
  assert.deepEqual(merged.map((b) => [b.id, b.heartbeat_ms]).sort(), [['a', 40], ['b', 50]]);
});
