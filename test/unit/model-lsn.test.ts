import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lsnDiff, parseLsn } from '../../src/model/lsn.js';

test('LSNs parse and subtract as 64-bit positions', () => {
  const a = parseLsn('16/B374D848');
  const b = parseLsn('16/B3000000');
  assert.ok(a && b);
  assert.equal(lsnDiff(a, b), 0x74d848);
  assert.equal(lsnDiff(parseLsn('1/0')!, parseLsn('0/FFFFFFFF')!), 1);
  assert.equal(parseLsn('nope'), null);
  assert.equal(parseLsn(null), null);
});
