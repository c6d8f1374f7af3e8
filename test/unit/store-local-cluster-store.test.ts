/**
 * The local backend of the ClusterStore port delegates to the existing files (servers.save and its
 * journal, behaviour unchanged) and keeps leadership changes beside them.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { FailoverRecord } from '../../src/model/failover-record.js';
import { HandyRepError } from '../../src/model/errors.js';
import { CONTROLLER_HISTORY_LIMIT } from '../../src/store/cluster-store.js';
import { journalPath } from '../../src/store/journal.js';
import { controllerHistoryPath, LocalClusterStore } from '../../src/store/local-cluster-store.js';
import type { SavedState } from '../../src/store/saved-state.js';

const dir = mkdtempSync(join(tmpdir(), 'handyrep-local-store-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const state: SavedState = {
  format: 'handyrep-state', version: 3, updated_ms: 1_700_000_000_000,
  servers: {} as SavedState['servers'], status: { status: 'healthy' } as unknown as SavedState['status'], history: [],
};
const record = { id: 'j1', kind: 'failover', steps: [], outcome: 'RUNNING' } as unknown as FailoverRecord;

describe('LocalClusterStore', () => {
  it('state and journal go to servers.save and servers.save.journal', async () => {
    const serverFile = join(dir, 'a', 'servers.save');
    mkdirSync(join(dir, 'a'));
    const store = new LocalClusterStore(serverFile);
    assert.equal(store.kind, 'local');
    assert.deepEqual(await store.readState(), { kind: 'missing' });
    await store.writeState(state);
    assert.deepEqual(await store.readState(), { kind: 'ok', state });
    assert.equal(await store.readJournal(), null);
    await store.writeJournal(record);
    assert.ok(existsSync(journalPath(serverFile)));
    assert.deepEqual(await store.readJournal(), record);
    await store.clearJournal();
    assert.equal(await store.readJournal(), null);
    writeFileSync(journalPath(serverFile), '{"id": "x", "kind": "fail');
    await assert.rejects(store.readJournal(), (err: unknown) => err instanceof HandyRepError && err.code === 'STATE_FILE' && /is not valid JSON/.test(err.message));
  });

  it('leadership changes are kept, oldest first, at most CONTROLLER_HISTORY_LIMIT', async () => {
    mkdirSync(join(dir, 'b'));
    const store = new LocalClusterStore(join(dir, 'b', 'servers.save'));
    assert.deepEqual(await store.readControllerHistory(), []);
    for (let i = 0; i < CONTROLLER_HISTORY_LIMIT + 2; i++) {
      await store.recordControllerEvent({ at: new Date(1_700_000_000_000 + i).toISOString(), controller_id: 'c', event: 'leading', term: null, details: String(i) });
    }
    const entries = await store.readControllerHistory();
    assert.equal(entries.length, CONTROLLER_HISTORY_LIMIT);
    assert.equal(entries[0]?.details, '2');
    assert.equal(entries.at(-1)?.details, String(CONTROLLER_HISTORY_LIMIT + 1));
    writeFileSync(controllerHistoryPath(join(dir, 'b', 'servers.save')), '[{"at": 1}]');
    await assert.rejects(store.readControllerHistory(), /is not a list of leadership changes/);
  });
});
