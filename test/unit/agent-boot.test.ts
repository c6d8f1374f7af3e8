import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decideBoot, type BootSnapshot } from '../../src/agent/boot.js';
import type { MasterKeyView } from '../../src/agent/decide.js';

const present = (name: string): MasterKeyView => ({ state: 'present', record: { name, term: '1', timeline: null, promoted_lsn: null, sync_set: [], since: '2026-01-01T00:00:00Z', written_by: 'test' } });
const snap = (master: MasterKeyView, running = false): BootSnapshot => ({ node: 'john', master, running, servers: ['john', 'paul'] });

describe('decideBoot (design §9 rule 3)', () => {
  const rows: [string, BootSnapshot, string, (boolean | string)?][] = [
    ['running, another node recorded → adopted (the rounds demote)', snap(present('paul'), true), 'leave', false],
    ['running, nothing recorded → adopted', snap({ state: 'absent' }, true), 'leave', false],
    ['stopped, this node recorded → start as master', snap(present('john')), 'start_master'],
    ['stopped, another node recorded → standby of it', snap(present('paul')), 'start_standby', 'paul'],
    ['stopped, nothing recorded → not started', snap({ state: 'absent' }), 'leave', true],
    ['stopped, key unreadable → not started', snap({ state: 'unreadable', reason: 'etcd unreachable' }), 'leave', true],
    ['stopped, recorded master unknown → not started', snap(present('ringo')), 'leave', true],
  ];
  for (const [name, s, kind, detail] of rows) {
    it(name, () => {
      const plan = decideBoot(s);
      assert.equal(plan.kind, kind);
      if (typeof detail === 'string') assert.equal(plan.kind === 'start_standby' ? plan.master : null, detail);
      if (typeof detail === 'boolean') assert.equal(plan.kind === 'leave' ? plan.retry : null, detail, 'asked again next round');
      assert.ok(plan.sentence.length > 0);
    });
  }
});
