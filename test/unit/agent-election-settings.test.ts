import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { electionSettingsFrom } from '../../src/agent/election/stored-settings.js';

const file = { paul: { failoverPriority: 999, nofailover: false, lagLimitMb: 100 } };
const stored = (name: string, extra: Record<string, unknown> = {}): { name: string; value: string } => ({
  name,
  value: JSON.stringify({ hostname: `${name}.example`, role: 'replica', enabled: true, failover_priority: 10, nofailover: false, lag_limit: 16, status: 'healthy', ...extra }),
});

describe('electionSettingsFrom (candidate settings from the stored servers/*)', () => {
  it('nothing stored (never led by a controller) → the agent\'s file', () => {
    assert.deepEqual(electionSettingsFrom([], file), { source: 'file', servers: file });
  });
  it('stored definitions replace the file: an operator\'s change through the API counts', () => {
    const r = electionSettingsFrom([stored('paul', { failover_priority: 0 }), stored('ringo', { nofailover: true }), stored('john', { role: 'master', lag_limit: 5 })], file);
    assert.equal(r.source, 'etcd');
    assert.deepEqual({ ...r.servers }, {
      paul: { failoverPriority: 0, nofailover: false, lagLimitMb: 16 },
      ringo: { failoverPriority: 10, nofailover: true, lagLimitMb: 16 },
      john: { failoverPriority: 10, nofailover: false, lagLimitMb: 5 },
    });
  });
  const rows: [string, { name: string; value: string }][] = [
    ['disabled', stored('ringo', { enabled: false })],
    ['a proxy', stored('ringo', { role: 'proxy' })],
    ['not JSON', { name: 'ringo', value: '{' }],
    ['a negative priority', stored('ringo', { failover_priority: -1 })],
    ['a priority that is not a whole number', stored('ringo', { failover_priority: 1.5 })],
    ['no lag_limit', stored('ringo', { lag_limit: undefined })],
    ['nofailover not a boolean', stored('ringo', { nofailover: 'no' })],
    ['fenced by the controller (an old master out of service)', stored('ringo', { fenced: true })],
  ];
  for (const [name, entry] of rows) {
    it(`${name} → not a candidate (the others still are)`, () => {
      const r = electionSettingsFrom([stored('paul'), entry], file);
      assert.deepEqual(Object.keys(r.servers), ['paul']);
    });
  }
});
