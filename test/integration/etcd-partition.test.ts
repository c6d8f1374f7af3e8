/**
 * The leading controller cut off from etcd (iptables DROP of only its packets: it runs as its own
 * OS user, matched with --uid-owner): it reports its leadership lost within ttl, and it does so
 * before the other controller starts leading (no overlap); the other leads within ttl + 1 s.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { parseConfig } from '../../src/config/load.js';
import { createEtcdContext, type EtcdContext } from '../../src/store/etcd/client.js';
import { EtcdLeadership } from '../../src/store/etcd/leadership.js';
import { startEtcdCluster, type EtcdCluster } from '../fixtures/etcd.js';
import { startCampaigner, type CampaignerProcess } from '../fixtures/etcd-campaigner-process.js';
import { postgresUser } from '../fixtures/exec.js';
import { dropHost, listRules, undropHost } from '../fixtures/iptables.js';

const TTL = 2;
const PREFIX = '/handyrep/partition/';
let etcd: EtcdCluster;
let ctx: EtcdContext | undefined;
let cutOff: CampaignerProcess | undefined;

/** Read through a function: after an assertion on `current`, TypeScript would narrow it for good. */
function termOf(leadership: EtcdLeadership): string | null {
  return leadership.current?.term ?? null;
}

before(async () => {
  etcd = await startEtcdCluster({ members: 3 });
});
after(async () => {
  for (const member of etcd?.members ?? []) undropHost(member.host);
  await cutOff?.kill();
  ctx?.close();
  await etcd?.stop();
});

it('a leader whose packets to etcd are dropped reports the loss within ttl, before the other leads', async () => {
  const user = postgresUser();
  const settings = { endpoints: etcd.endpoints, prefix: PREFIX, ttl: TTL, retry_timeout: 1 };
  cutOff = startCampaigner({ ...settings, controller_id: 'ctl-cut' }, { uid: user.uid, gid: user.gid });
  const leading = await cutOff.next('leading', 15_000);

  ctx = createEtcdContext(parseConfig(JSON.stringify({ handyrep: { store: 'etcd' }, etcd: settings }), 'test'));
  const other = new EtcdLeadership(ctx, { controllerId: 'ctl-other', apiUrl: null });
  const abort = new AbortController();
  const campaign = other.campaign(abort.signal);
  await new Promise((r) => setTimeout(r, 700));
  assert.equal(other.current, null, 'the other follows while the leader can reach etcd');

  for (const member of etcd.members) dropHost(member.host, user.uid);
  const cutAt = Date.now();
  assert.ok(listRules().some((rule) => rule.includes(`--uid-owner ${user.uid}`)), 'the owner rules are in place');

  const lost = await cutOff.next('lost', TTL * 1000 + 1000);
  const term = await campaign;
  const otherLeadsAt = Date.now();
  console.log(`cut-off leader reported the loss ${lost.at - cutAt} ms after the cut (${lost.reason}); the other leads ${otherLeadsAt - cutAt} ms after it`);
  assert.equal(lost.term, leading.term);
  assert.ok(lost.at - cutAt <= TTL * 1000, `loss reported ${lost.at - cutAt} ms after the cut (ttl ${TTL} s)`);
  assert.ok(lost.at < otherLeadsAt, 'the cut-off leader stopped before the other started leading');
  assert.ok(otherLeadsAt - cutAt <= TTL * 1000 + 1000, `the other leads ${otherLeadsAt - cutAt} ms after the cut`);
  assert.ok(BigInt(term.term) > BigInt(leading.term ?? '0'));

  // Healed, the old leader campaigns again but follows: the other keeps the lead.
  for (const member of etcd.members) undropHost(member.host);
  await new Promise((r) => setTimeout(r, 1500));
  assert.equal(cutOff.events.filter((e) => e.event === 'leading').length, 1, 'the healed controller does not lead again');
  assert.equal(termOf(other), term.term, 'the other still leads with its term');
  assert.ok(!listRules().some((rule) => rule.includes(`--uid-owner ${user.uid}`) && etcd.members.some((m) => rule.includes(m.host))), 'rules removed');
  abort.abort();
  await other.resign();
});
