/**
 * One etcd member of three failing (design §9): frozen (SIGSTOP), then cut off by iptables. The
 * other two keep quorum, so the leading controller must keep its term — renewals move to a member
 * that answers — and its guarded writes keep succeeding within retry_timeout.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { parseConfig } from '../../src/config/load.js';
import { createEtcdContext } from '../../src/store/etcd/client.js';
import { termGuardedWrite } from '../../src/store/etcd/guarded-txn.js';
import { EtcdLeadership, type LeadershipLoss } from '../../src/store/etcd/leadership.js';
import { startEtcdCluster, type EtcdCluster } from '../fixtures/etcd.js';

const TTL = 3;
const RETRY_TIMEOUT = 2;
let etcd: EtcdCluster;

before(async () => {
  etcd = await startEtcdCluster({ members: 3 });
});
after(async () => {
  await etcd?.stop();
});

it('one member of three (not etcd\'s own leader) frozen, then cut off: quorum holds, the leader keeps its term across 3 × ttl and writes', async () => {
  const oneDown = createEtcdContext(
    parseConfig(JSON.stringify({ handyrep: { store: 'etcd' }, etcd: { endpoints: etcd.endpoints, prefix: '/handyrep/one-down/', ttl: TTL, retry_timeout: RETRY_TIMEOUT } }), 'test'),
  );
  try {
    const leadership = new EtcdLeadership(oneDown, { controllerId: 'ctl-a', apiUrl: null });
    const losses: LeadershipLoss[] = [];
    leadership.onLost((loss) => losses.push(loss));
    const term = await leadership.campaign();
    // A follower member: freezing etcd's own leader would add an etcd election, which a
    // retry_timeout this short (2 s) need not survive.
    const raftLeader = await etcd.raftLeader();
    const first = etcd.members.find((m) => m !== raftLeader);
    assert.ok(first);
    const writeEvery = async (from: number): Promise<void> => {
      for (let i = from; i < from + 3; i++) {
        await new Promise((r) => setTimeout(r, (TTL * 1000) / 2));
        const started = Date.now();
        await termGuardedWrite(oneDown, leadership, 'write the master', [{ kind: 'put', key: oneDown.keys.master, value: `{"n":${i}}` }]);
        assert.ok(Date.now() - started <= RETRY_TIMEOUT * 1000, `write ${i} took ${Date.now() - started} ms`);
      }
    };
    try {
      first.freeze();
      await writeEvery(0);
      first.thaw();
      first.cut();
      await writeEvery(3);
    } finally {
      first.thaw();
      first.heal();
    }
    assert.deepEqual(losses, [], 'renewals kept the lease');
    assert.equal(leadership.current?.term, term.term);
    await leadership.resign();
    await etcd.waitHealthy();
  } finally {
    oneDown.close();
  }
});
