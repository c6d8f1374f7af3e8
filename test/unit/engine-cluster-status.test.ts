import { test } from 'node:test';
import assert from 'node:assert/strict';
import { clusterStatus } from '../../src/engine/cluster-status.js';
import { serverStatusNumber, type ServerStatusName } from '../../src/model/status.js';

function s(role: string, status: ServerStatusName, enabled = true) {
  return { role, status, status_no: serverStatusNumber(status), enabled };
}

test('cluster status rules, in order', () => {
  const table: [string, Record<string, ReturnType<typeof s>>, string][] = [
    ['no master', { paul: s('replica', 'healthy') }, 'down'],
    ['disabled master', { john: s('master', 'healthy', false), paul: s('replica', 'healthy') }, 'down'],
    ['two masters', { john: s('master', 'healthy'), paul: s('master', 'healthy') }, 'down'],
    ['master unchecked', { john: s('master', 'unknown'), paul: s('replica', 'healthy') }, 'unknown'],
    ['master down', { john: s('master', 'down'), paul: s('replica', 'healthy') }, 'down'],
    ['master unavailable', { john: s('master', 'unavailable'), paul: s('replica', 'healthy') }, 'down'],
    ['master warning', { john: s('master', 'warning'), paul: s('replica', 'healthy') }, 'warning'],
    ['replica down', { john: s('master', 'healthy'), paul: s('replica', 'down') }, 'warning'],
    ['no replica', { john: s('master', 'healthy') }, 'warning'],
    ['disabled replica only', { john: s('master', 'healthy'), paul: s('replica', 'down', false) }, 'warning'],
    ['lagged replica is fine', { john: s('master', 'healthy'), paul: s('replica', 'lagged') }, 'healthy'],
    ['healthy', { john: s('master', 'healthy'), paul: s('replica', 'healthy'), george: s('replica', 'warning') }, 'healthy'],
  ];
  for (const [label, servers, expected] of table) assert.equal(clusterStatus(servers).status, expected, label);
});
