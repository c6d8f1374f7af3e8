/** When a follower forwards a mutating call to the leader (src/daemon/forwarding.ts), row by row. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { forwardDecision, type ForwardFacts } from '../../src/daemon/forwarding.js';

const base: ForwardFacts = {
  report: { method: 'etcd_lease', leading: false, leader: 'ctl-a', leader_url: 'https://ctl-a.example:8080/', term: '7', data_age_ms: 100, stale_reason: null },
  forwardInsecure: false,
  alreadyForwarded: false,
  hasAuthorization: true,
  functionName: 'pause',
};
const http = { ...base.report, leader_url: 'http://10.0.0.5:8080/' };

const rows: [string, Partial<ForwardFacts>, string | RegExp][] = [
  ['https leader: forwarded', {}, 'https://ctl-a.example:8080/pause'],
  ['http leader, not allowed: 503 naming it', { report: http }, /leads at http:\/\/10\.0\.0\.5:8080\/: call it there .*forward_insecure/],
  ['http leader, forward_insecure: forwarded', { report: http, forwardInsecure: true }, 'http://10.0.0.5:8080/pause'],
  ['no leader', { report: { ...base.report, leader: null, leader_url: null } }, /no controller leads now/],
  ['already forwarded once', { alreadyForwarded: true }, /forwarded here by another controller/],
  ['leader without a usable URL', { report: { ...base.report, leader_url: null } }, /advertises no usable API URL/],
  ['a URL with a password (never trusted)', { report: { ...base.report, leader_url: 'https://u:p@ctl-a:8080/' } }, /user or password/],
  ['a dashboard session', { hasAuthorization: false }, /dashboard session is not forwarded/],
  ['this controller leads', { report: { ...base.report, leading: true } }, /this controller leads/],
];
for (const [name, change, expected] of rows) {
  test(`forwarding: ${name}`, () => {
    const decision = forwardDecision({ ...base, ...change });
    if (typeof expected === 'string') {
      assert.equal(decision.forward ? decision.target.toString() : decision.reason, expected);
    } else {
      assert.equal(decision.forward, false);
      assert.match(decision.forward ? '' : decision.reason, expected);
    }
  });
}
