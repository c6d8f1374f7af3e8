/** Which replicas connection proxies send read-only clients to, and in what order. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readReplicaOrder } from '../../src/engine/connection-routing.js';
import type { ServerStatusName } from '../../src/model/status.js';

const replica = (failover_priority: number, status: ServerStatusName, enabled = true) => ({ role: 'replica', enabled, status, failover_priority });

test('usable enabled replicas only, lowest priority first, then by name', () => {
  const servers = {
    john: { role: 'master', enabled: true, status: 'healthy', failover_priority: 1 },
    ringo: replica(2, 'healthy'),
    paul: replica(2, 'lagged'),
    george: replica(1, 'warning'),
    pete: replica(0, 'down'),
    stuart: replica(0, 'healthy', false),
    bouncer: { role: 'pgbouncer', enabled: true, status: 'healthy', failover_priority: 0 },
  } as const;
  assert.deepEqual(readReplicaOrder(servers, 'john'), ['george', 'paul', 'ringo']);
});

test('the master is never a read replica, even while still marked as one', () => {
  assert.deepEqual(readReplicaOrder({ paul: replica(1, 'healthy') }, 'paul'), []);
});
