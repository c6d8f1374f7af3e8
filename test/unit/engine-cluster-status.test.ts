import { test } from 'node:test';
import assert from 'node:assert/strict';
import { clusterStatus, type ClusterContext } from '../../src/engine/cluster-status.js';
import type { MasterJudgement } from '../../src/engine/master-vantage.js';
import { serverStatusNumber, type ServerStatusName } from '../../src/model/status.js';

function s(role: string, status: ServerStatusName, enabled = true) {
  return { role, status, status_no: serverStatusNumber(status), enabled };
}

const UNTIL = '2030-01-01T00:00:00.000Z';
const seen: MasterJudgement = { master: 'john', kind: 'seen', seenBy: ['paul (probe: accepting connections)'], reason: 'paul can', until: UNTIL };
const failed: MasterJudgement = { master: 'john', kind: 'failed', reason: 'nobody reaches it', until: UNTIL };
const undecided: MasterJudgement = { master: 'john', kind: 'undecided', reason: 'no replica to ask', until: UNTIL };
const none: ClusterContext = { judgement: null, plannedDown: null, paused: false, topologyInFlight: false };

test('cluster status rules, in order', () => {
  const table: [string, Record<string, ReturnType<typeof s>>, string][] = [
    ['no master', { paul: s('replica', 'healthy') }, 'down'],
    ['disabled master', { john: s('master', 'healthy', false), paul: s('replica', 'healthy') }, 'down'],
    ['two masters', { john: s('master', 'healthy'), paul: s('master', 'healthy') }, 'down'],
    ['master unchecked', { john: s('master', 'unknown'), paul: s('replica', 'healthy') }, 'unknown'],
    ['master down', { john: s('master', 'down'), paul: s('replica', 'healthy') }, 'down'],
    // Not answering is not yet failed: the failover check's judgement decides (rows below).
    ['master unavailable, not judged yet', { john: s('master', 'unavailable'), paul: s('replica', 'healthy') }, 'warning'],
    ['master warning', { john: s('master', 'warning'), paul: s('replica', 'healthy') }, 'warning'],
    ['replica down', { john: s('master', 'healthy'), paul: s('replica', 'down') }, 'warning'],
    ['no replica', { john: s('master', 'healthy') }, 'warning'],
    ['disabled replica only', { john: s('master', 'healthy'), paul: s('replica', 'down', false) }, 'warning'],
    ['lagged replica is fine', { john: s('master', 'healthy'), paul: s('replica', 'lagged') }, 'healthy'],
    ['healthy', { john: s('master', 'healthy'), paul: s('replica', 'healthy'), george: s('replica', 'warning') }, 'healthy'],
  ];
  for (const [label, servers, expected] of table) assert.equal(clusterStatus(servers).status, expected, label);
});

test('cluster status with the judgement, maintenance and topology context, row by row', () => {
  const unavailable = { john: s('master', 'unavailable'), paul: s('replica', 'healthy') };
  const warning = { john: s('master', 'warning'), paul: s('replica', 'healthy') };
  const down = { john: s('master', 'down'), paul: s('replica', 'healthy') };
  const noMaster = { john: s('replica', 'down', false), paul: s('replica', 'healthy') };
  const table: [string, Record<string, ReturnType<typeof s>>, Partial<ClusterContext>, string, RegExp, boolean][] = [
    // [label, servers, context, status, message, quiet (logged, not alerted)]
    ['unanswering master, not judged yet', unavailable, {}, 'warning', /does not answer HandyRep; checking whether the replicas/, true],
    ['unanswering master, paused: no judgement will come', unavailable, { paused: true }, 'warning', /failover is paused/, false],
    ['unanswering master judged failed', unavailable, { judgement: failed }, 'down', /unavailable: nobody reaches it/, false],
    ['unanswering master, judgement undecided', unavailable, { judgement: undecided }, 'warning', /nobody can tell.*no replica to ask/, false],
    ['master the replicas see (warning)', warning, { judgement: seen }, 'warning', /HandyRep cannot reach it; replicas see it \(paul\)/, false],
    ['a judgement of another master does not count', unavailable, { judgement: { ...failed, master: 'ringo' } }, 'warning', /checking/, true],
    ['master down on purpose', down, { plannedDown: 'john' }, 'down', /stopped through HandyRep/, true],
    ['master down, another server planned down', down, { plannedDown: 'paul' }, 'down', /master john is down/, false],
    ['no master mid-switchover', noMaster, { topologyInFlight: true }, 'down', /no enabled master/, true],
    ['no master otherwise', noMaster, {}, 'down', /no enabled master/, false],
  ];
  for (const [label, servers, context, status, message, quiet] of table) {
    const verdict = clusterStatus(servers, { ...none, ...context });
    assert.equal(verdict.status, status, label);
    assert.match(verdict.message, message, label);
    assert.equal(verdict.quiet === true, quiet, `${label}: quiet`);
  }
});
