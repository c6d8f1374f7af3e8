/**
 * How each status change is reported: failures and degradations are alerted, recoveries and
 * first observations are not.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { clusterChangeSeverity, serverChangeSeverity } from '../../src/engine/status-change.js';
import type { ServerStatusName } from '../../src/model/status.js';

const rows: [ServerStatusName, ServerStatusName, string][] = [
  ['healthy', 'down', 'failure'],
  ['lagged', 'unavailable', 'failure'],
  ['unknown', 'down', 'failure'],
  ['healthy', 'lagged', 'degraded'],
  ['healthy', 'warning', 'degraded'],
  ['lagged', 'warning', 'degraded'],
  ['warning', 'lagged', 'recovery'],
  ['lagged', 'healthy', 'recovery'],
  ['down', 'healthy', 'recovery'],
  ['unknown', 'lagged', 'change'],
  ['unknown', 'healthy', 'change'],
  ['down', 'unavailable', 'change'],
];
for (const [from, to, severity] of rows) {
  test(`server ${from} → ${to}: ${severity}`, () => {
    assert.equal(serverChangeSeverity(from, to), severity);
  });
}

test('cluster healthy → warning is a failure, warning → healthy a recovery', () => {
  assert.equal(clusterChangeSeverity('healthy', 'warning'), 'failure');
  assert.equal(clusterChangeSeverity('warning', 'healthy'), 'recovery');
});
