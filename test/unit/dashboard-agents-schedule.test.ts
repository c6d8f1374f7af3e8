/** When the dashboard asks get_agents again (dashboard/src/agents-schedule.ts), row by row. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AGENTS_EVERY_MS, AGENTS_FAILING_MAX_MS, nextAgentsCallMs } from '../../dashboard/src/agents-schedule.js';

const rows: [string, boolean, number, number | null][] = [
  ['visible, the last call answered: the usual period', true, 0, AGENTS_EVERY_MS],
  ['hidden: no call until the page shows again', false, 0, null],
  ['hidden while failing: no call either', false, 5, null],
  ['one failure: twice the period', true, 1, 2 * AGENTS_EVERY_MS],
  ['two failures in a row: four times', true, 2, 4 * AGENTS_EVERY_MS],
  ['three: eight times', true, 3, 8 * AGENTS_EVERY_MS],
  ['failing on: capped', true, 4, AGENTS_FAILING_MAX_MS],
  ['failing for hours: still capped (no overflow)', true, 5000, AGENTS_FAILING_MAX_MS],
  ['a count that is not one (negative, fraction): read as whole failures, at least none', true, -2, AGENTS_EVERY_MS],
];
for (const [label, visible, failures, expected] of rows) {
  test(`agents schedule: ${label}`, () => assert.equal(nextAgentsCallMs(visible, failures), expected));
}

test('agents schedule: the cap is above the period and the period is 3 s', () => {
  assert.equal(AGENTS_EVERY_MS, 3000);
  assert.ok(AGENTS_FAILING_MAX_MS > AGENTS_EVERY_MS);
});
