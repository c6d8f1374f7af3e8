/**
 * The failover check's retries and vantage probes (issue 12), over fakes: the replica hosts are
 * asked while the retries run, not after them, and their answer counts only when every retry fails.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../src/config/load.js';
import { failure, success } from '../../src/model/rd.js';
import { makeServerStatus } from '../../src/model/status.js';
import { failoverCheck } from '../../src/runtime/failover-check.js';
import { serversFromConfig } from '../../src/runtime/state-sync.js';
import type { TopologyEnv } from '../../src/runtime/topology/env.js';
import { fakeCheckDeps, fakeJudgementCtx } from '../fixtures/fake-judgement-ctx.js';
import { fakeTopologyBase } from '../fixtures/fake-topology-env.js';

const CONFIG = parseConfig(
  'failover: {auto_failover: false, fail_retries: 2, fail_retry_interval: 0.2}\nservers: {john: {hostname: h-john, role: master}, paul: {hostname: h-paul, role: replica}, george: {hostname: h-george, role: replica}}\n',
  'test.yaml',
);

/** A check cycle where the master fails its poll; `retryAnswers` says whether the n-th retry gets an answer. */
async function cycle(retryAnswers: boolean[]): Promise<{ events: string[]; details: string; status: string; done: () => void }> {
  const now = new Date().toISOString();
  const servers = serversFromConfig(CONFIG, now);
  for (const s of Object.values(servers)) Object.assign(s, makeServerStatus('healthy', 'test', now));
  const { base, book, done } = fakeTopologyBase(servers);
  const events: string[] = [];
  let retry = 0;
  const ctx = fakeJudgementCtx(CONFIG, events);
  const restart = { control: async () => ({ ok: true, running: false, details: 'not running' }) };
  const env = {
    ...base,
    sleep: async () => {
      events.push('retry wait');
      await new Promise((r) => setImmediate(r));
    },
    ctx: () => ctx,
    plugins: { get: () => restart },
    checks: {
      pollAll: async () => failure('master john failed its check: refused', { failover_ok: true, servers: {} }),
      pollServer: async () => {
        const answers = retryAnswers[retry++] ?? false;
        events.push(`retry poll: ${answers ? 'answers' : 'no answer'}`);
        return answers ? success('answers', { status: 'healthy' }) : failure('refused', { status: 'down' });
      },
    },
  } as unknown as TopologyEnv;
  const deps = fakeCheckDeps(env);
  const rd = await failoverCheck(deps, false);
  return { events, details: rd.details, status: book.get('john').status_message, done };
}

test('the replica hosts probe the master while the retries run, and their answer decides once every retry failed', async () => {
  const c = await cycle([false, false]);
  try {
    const firstProbe = c.events.findIndex((e) => e.startsWith('probe'));
    const firstWait = c.events.indexOf('retry wait');
    assert.ok(firstProbe >= 0 && firstProbe < firstWait, `probes start before the first retry: ${c.events.join(' | ')}`);
    assert.equal(c.events.filter((e) => e.startsWith('probe')).length, 2, 'each replica host once');
    assert.match(c.details, /auto_failover|automatic failover/i, c.details);
  } finally {
    c.done();
  }
});

test('a retry that gets an answer ends the check: the probes asked meanwhile decide nothing', async () => {
  const c = await cycle([false, true]);
  try {
    assert.match(c.details, /answered on retry 2/);
    assert.doesNotMatch(c.status, /replicas|judged|failed/i, c.status);
  } finally {
    c.done();
  }
});
