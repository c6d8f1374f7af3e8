/**
 * The `master` key's record: what round-trips, and every malformed value refused with the field named.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HandyRepError } from '../../src/model/errors.js';
import { encodeMasterRecord, parseMasterRecord, recordAllowsWritable, type MasterRecord } from '../../src/store/etcd/master-record.js';

const record: MasterRecord = {
  name: 'paul',
  term: '42',
  timeline: 3,
  promoted_lsn: '0/3000060',
  sync_set: ['john'],
  since: '2026-12-04T12:00:00.000Z',
  written_by: 'c1',
};

describe('master record', () => {
  it('round-trips', () => {
    assert.deepEqual(parseMasterRecord('/h/master', encodeMasterRecord(record)), record);
  });

  const bad: ReadonlyArray<[string, unknown, RegExp]> = [
    ['not an object', [1], /an object is expected/],
    ['name with a slash', { ...record, name: '../leader' }, /"name"/],
    ['term zero', { ...record, term: '0' }, /"term"/],
    ['term a number', { ...record, term: 42 }, /"term"/],
    ['timeline 0', { ...record, timeline: 0 }, /"timeline"/],
    ['lsn garbage', { ...record, promoted_lsn: "0/1'; drop" }, /"promoted_lsn"/],
    ['sync_set with a bad name', { ...record, sync_set: ['a b'] }, /"sync_set"/],
    ['since not a time', { ...record, since: 'yesterday' }, /"since"/],
    ['no writer', { ...record, written_by: '' }, /"written_by"/],
  ];
  for (const [label, value, message] of bad) {
    it(`refuses ${label}`, () => {
      assert.throws(() => parseMasterRecord('/h/master', JSON.stringify(value)), (e: unknown) => e instanceof HandyRepError && e.code === 'STORE_DATA' && message.test(e.message) && e.message.includes('/h/master'));
    });
  }
  it('refuses a value that is not JSON', () => {
    assert.throws(() => parseMasterRecord('/h/master', '{'), /does not hold JSON/);
  });

  it('only the recorded node may be writable; no record allows nobody', () => {
    assert.equal(recordAllowsWritable(record, 'paul'), true);
    assert.equal(recordAllowsWritable(record, 'john'), false);
    assert.equal(recordAllowsWritable(null, 'paul'), false);
  });
});
