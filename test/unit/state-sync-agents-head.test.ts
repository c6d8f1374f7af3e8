/**
 * A controller started on an etcd store whose `cluster` key a node agent created (deployment
 * agents: it holds only the synchronous set the master's agent recorded, no servers): not a damaged
 * store — servers from the configuration file, the agents' set kept (runtime/state-sync.ts).
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { headWithSync } from '../../src/agent/sync/keeper-store.js';
import { parseConfig } from '../../src/config/load.js';
import type { SyncRecord } from '../../src/model/sync-record.js';
import { loadStoreState } from '../../src/runtime/state-sync.js';
import type { ClusterStore, StoredStateRead } from '../../src/store/cluster-store.js';
import type { SavedState } from '../../src/store/saved-state.js';

const config = parseConfig('handyrep: {deployment: agents}\netcd: {endpoints: ["http://a:2379"]}\nservers: {john: {hostname: 10.0.0.11, role: master}, paul: {hostname: 10.0.0.12, role: replica}}\n', 'test.yaml');
const storeOf = (read: StoredStateRead): ClusterStore => ({ readState: async () => read }) as unknown as ClusterStore;
const set: SyncRecord = { members: ['paul'], quorum: 1, master: 'john', at: '2026-12-05T01:00:00.000Z', reason: 'test' };

it("a head the agent created (no servers) → servers from the file, the agents' set kept, no damage", async () => {
  const head = headWithSync(null, set, Date.parse('2026-12-05T01:00:00Z'));
  const state = { ...head, servers: {}, history: [] } as unknown as SavedState;
  const initial = await loadStoreState(config, storeOf({ kind: 'ok', state }), '/handyrep/', '2026-12-05T01:00:01.000Z');
  assert.deepEqual(Object.keys(initial.servers).sort(), ['john', 'paul']);
  assert.equal(initial.servers['john']?.role, 'master');
  assert.deepEqual(initial.sync.record, set);
  assert.deepEqual(initial.sync.history, [set]);
  assert.equal(initial.storeDamage, undefined);
  assert.equal(initial.source.from, 'config');
  assert.match(initial.notes[0] ?? '', /holds no servers yet \(its cluster key was written by a node agent\)/);
});

it('a store with a server record that is not valid is still damage', async () => {
  const state = { format: 'handyrep-state', version: 3, updated_ms: 1, status: { status: 'healthy', status_no: 1, status_ts: 'x', status_message: '' }, servers: { john: { enabled: true } }, history: [] } as unknown as SavedState;
  const initial = await loadStoreState(config, storeOf({ kind: 'ok', state }), '/handyrep/', '2026-12-05T01:00:01.000Z');
  assert.ok(initial.storeDamage !== undefined);
});
