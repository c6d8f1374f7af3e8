/**
 * What a replica's round learns of the master (master-view.ts): when the master's record is read
 * on its own beside the probe, and when the copy read with the agent's own record's write stands
 * for it (only for the same master record, name and term).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { MasterKeyView } from '../../src/agent/decide.js';
import type { MasterProbe } from '../../src/agent/master-probe.js';
import { observeMaster, recordReadNeeded, type MasterRecordRead } from '../../src/agent/master-view.js';
import type { EtcdContext } from '../../src/store/etcd/client.js';
import { parseMemberView } from '../../src/store/etcd/member-view.js';

describe('recordReadNeeded', () => {
  const rows: ReadonlyArray<[string, { elections: boolean; streamingLastRound: boolean }, boolean]> = [
    ['idle replica streaming, no elections: the copy from its own write', { elections: false, streamingLastRound: true }, false],
    ['not streaming (or facts unknown): read each round, /replica?lag= rests on the record', { elections: false, streamingLastRound: false }, true],
    ['agents elect (ha, agents): read each round, the lag limit wants the last position at once', { elections: true, streamingLastRound: true }, true],
    ['both', { elections: true, streamingLastRound: false }, true],
  ];
  for (const [label, s, want] of rows) it(`${label} → ${String(want)}`, () => assert.equal(recordReadNeeded(s), want));
});

describe('observeMaster', () => {
  const master = (name: string, term: string): MasterKeyView => ({ state: 'present', record: { name, term, timeline: 1, promoted_lsn: null, sync_set: [], since: 'x', written_by: 'test' } }) as unknown as MasterKeyView;
  const recordText = '{"name":"john","role":"master","postgres":"running","wal_position":"0/5","observed_at":"2026-01-01T00:00:00.000Z"}';
  const prober = { probe: async () => ({ sees: true, detail: 'answers SELECT 1' }), close: () => undefined } as unknown as MasterProbe;
  let reads = 0;
  const ctx = (answer: () => Promise<string | null>) =>
    ({ keys: { member: (n: string) => `/p/members/${n}` }, client: { get: () => ({ string: () => (reads++, answer()) }) } }) as unknown as EtcdContext;
  const cached: MasterRecordRead = { key: 'john/1', record: parseMemberView(recordText.replace('0/5', '0/3')) };

  it('the copy stands for this round when its master record is the same (name and term); nothing read', async () => {
    reads = 0;
    const seen = await observeMaster({ ctx: ctx(async () => recordText), prober, node: 'paul', callMs: 500 }, master('john', '1'), cached, false, '7');
    assert.equal(reads, 0);
    assert.equal(seen.record?.wal_position, '0/3');
    assert.equal(seen.fresh, null);
    assert.equal(seen.probe?.afterRevision, '7');
  });
  it('a copy from another term of the same node does not stand', async () => {
    const seen = await observeMaster({ ctx: ctx(async () => recordText), prober, node: 'paul', callMs: 500 }, master('john', '2'), cached, false);
    assert.equal(seen.record, null);
  });
  it('read now: the record read beside the probe is used and kept', async () => {
    reads = 0;
    const seen = await observeMaster({ ctx: ctx(async () => recordText), prober, node: 'paul', callMs: 500 }, master('john', '1'), cached, true);
    assert.equal(reads, 1);
    assert.equal(seen.record?.wal_position, '0/5');
    assert.deepEqual(seen.fresh?.key, 'john/1');
  });
  it('read now, the read fails: no record this round, the older copy is not replaced', async () => {
    const seen = await observeMaster({ ctx: ctx(async () => Promise.reject(new Error('etcd down'))), prober, node: 'paul', callMs: 500 }, master('john', '1'), cached, true);
    assert.equal(seen.record, null);
    assert.equal(seen.fresh, null);
  });
  it('on the master itself: no probe, no record', async () => {
    const seen = await observeMaster({ ctx: ctx(async () => recordText), prober, node: 'john', callMs: 500 }, master('john', '1'), cached, true);
    assert.deepEqual(seen, { probe: null, record: null, fresh: null });
  });
});
