/**
 * Issue 14, deployment `ha`: a controller that starts leading after an agents' election adopts the
 * agents' master (src/runtime/topology/adopt-agents-master.ts). Real etcd, three real PostgreSQL
 * nodes, a real agent per node (deployment ha), a controller daemon under etcd_lease:
 *   1. ctl-a leads and seeds the master key (john); john's agent takes its master lease;
 *   2. ctl-a is stopped (no controller leads), then john's host is lost (agent and PostgreSQL
 *      SIGKILLed): after ttl without a leader and john's lease expired, the agents elect a replica;
 *   3. ctl-b starts (same etcd store: its book still names john) → its book names the elected node
 *      as master, john fenced, an `adoption` history entry beside the agents' own failover entry;
 *      no failover by the controller, the master key untouched, the elected node not in warning;
 *   4. what a failover does after its promotion and the agents' election does not: a real pgbouncer
 *      (pointed at john by ctl-a) routes to the elected node, and an extra_failover_command (a
 *      local_command writing a file) ran, each a step of the adoption entry.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { startAgent, type RunningAgent } from '../fixtures/agents.js';
import { closeBed, openBed, sleep, waitUntil, type Bed } from '../fixtures/chaos.js';
import { basic, http } from '../fixtures/daemon.js';
import { ADMIN, etcdClient, leaders, prefixOf, readKeyJson, startController, TTL_SECONDS, type Controller } from '../fixtures/etcd-controllers.js';
import { startEtcdCluster, type EtcdCluster } from '../fixtures/etcd.js';
import { HANDYREP_DB_PASSWORD } from '../fixtures/template.js';
import { killHost, type ElectionBed } from '../fixtures/agents-election.js';
import { startBouncer, type Bouncer } from '../fixtures/pgbouncer.js';

interface Status {
  servers: Record<string, { role: string; enabled: boolean; status: string; status_message: string }>;
}
interface Entry {
  id: string;
  kind: string;
  from: string | null;
  to: string | null;
  outcome: string;
  details: string;
  steps: { name: string; server: string | null; outcome: string; details: string }[];
}

/**
 * The fixture's 1 s etcd deadline made a controller exit at start ("etcd did not answer within
 * 1000 ms (read the saved state)") on this 2-core machine under a load average near 20, with another
 * integration file running; 3 s keeps the same behaviour with a margin.
 */
const ETCD_SETTINGS = { retry_timeout: 3 };

/** The agents' history entries are `e<revision>-<node>` (elector.ts); a controller's are UUIDs, which may start with `e` too. */
const AGENTS_ENTRY_ID = /^e\d+-[a-z]/;

function tail(file: string, lines = 40): string {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').slice(-lines).map((l) => l.slice(0, 400)).join('\n');
  } catch {
    return '(no log)';
  }
}

async function get<T>(c: Controller, path: string): Promise<T> {
  return (await http(c.daemon.url, path, { headers: { authorization: basic(ADMIN) } })).json as T;
}

describe("a controller leading after an agents' election adopts the agents' master", { timeout: 300_000 }, () => {
  let bed: Bed | null = null;
  let etcd: EtcdCluster | null = null;
  const controllers: Controller[] = [];
  const agents = new Map<string, RunningAgent>();
  let bouncer: Bouncer | null = null;

  after(async () => {
    await bouncer?.stop();
    await Promise.all([...agents.values()].map((a) => a.stop('SIGKILL')));
    for (const c of controllers) await c.daemon.stop('SIGTERM').catch(() => undefined);
    await etcd?.stop();
    if (bed) await closeBed(bed);
  });

  it('john lost while no controller leads → agents elect; ctl-b then names the elected node master, fences john, no failover', async () => {
    bed = await openBed({ label: 'ha-adopt-agents-master', expect: 'failover', open: false, failover: { auto_rejoin: false } });
    etcd = await startEtcdCluster({ members: 1 });
    const current = bed;
    const prefix = prefixOf(current);
    const client = etcdClient(etcd);
    // The third node's address: not john's, whose host is lost below.
    const proxy = await startBouncer(current.cluster, current.node('george').host);
    bouncer = proxy;
    const marker = join(current.cluster.root, 'extra-command-ran');
    const { failover: proxyFailover, ...proxyRest } = proxy.config();
    const proxySections = {
      ...proxyRest,
      extra_failover_commands: { note: { command: 'local_command', parameters: ['/bin/sh', '-c', 'echo "$1 from $2" > "$3"', 'sh', '{newmaster}', '{oldmaster}', marker] } },
    };
    const controllerFailover = { unreachable_master: 'agent_lease', auto_rejoin: false, ...(proxyFailover as Record<string, unknown>) };
    try {
      const ctlA = await startController(current, etcd, 'ctl-a', controllerFailover, ETCD_SETTINGS, undefined, proxySections);
      controllers.push(ctlA);
      await waitUntil(async () => (await leaders([ctlA])).length === 1, 'ctl-a leads', 30_000);
      await waitUntil(async () => (await readKeyJson(client, `${prefix}master`))?.['name'] === 'john', 'the master key names john', 30_000);
      const init = await http(ctlA.daemon.url, '/connection_proxy_init', { method: 'POST', headers: { authorization: basic(ADMIN) } });
      assert.equal((init.json as { result: string }).result, 'SUCCESS', JSON.stringify(init.json));
      assert.equal((await proxy.query('postgres')).addr, current.node('john').host, 'pgbouncer routes to john before the election');
      const settings = {
        endpoints: etcd.endpoints,
        prefix,
        ttl: TTL_SECONDS,
        sections: { handyrep: { deployment: 'ha' }, passwords: { handyrep_db_pass: HANDYREP_DB_PASSWORD }, failover: { use_replication_slots: false } },
      };
      for (const node of current.cluster.nodes) agents.set(node.name, startAgent(current.cluster, node, settings));
      await waitUntil(async () => (await client.get(`${prefix}master_lease/john`).string()) !== null, "john's agent holds the master lease", 30_000);
      await waitUntil(async () => (await client.getAll().prefix(`${prefix}members/`).keys()).length === 3, 'three member records', 30_000);
      // A few rounds: the replicas' agents see john's lease held and his WAL position.
      await sleep(3000);

      await ctlA.daemon.stop('SIGTERM');
      const bedLike = { cluster: current.cluster, client, prefix, settings, agents } as unknown as ElectionBed;
      await killHost(bedLike, current.node('john'));
      let elected = '';
      await waitUntil(async () => {
        const record = await readKeyJson(client, `${prefix}master`);
        if (record === null || record['name'] === 'john' || typeof record['timeline'] !== 'number') return false;
        elected = String(record['name']);
        return record['written_by'] === `agent:${elected}`;
      }, 'the agents elected and confirmed a new master', 60_000);
      const keyBefore = await client.get(`${prefix}master`).string();

      const ctlB = await startController(current, etcd, 'ctl-b', controllerFailover, ETCD_SETTINGS, undefined, proxySections);
      controllers.push(ctlB);
      await waitUntil(async () => (await leaders([ctlB])).length === 1, 'ctl-b leads', 30_000);
      await waitUntil(async () => (await get<Status>(ctlB, '/get_status')).servers[elected]?.role === 'master', `ctl-b's book names ${elected} master`, 30_000);
      // Several monitor cycles (1 s polls): nothing may fight the adopted master.
      await sleep(6000);
      const status = await get<Status>(ctlB, '/get_status');
      const named = status.servers[elected];
      assert.equal(named?.role, 'master');
      assert.equal(named?.enabled, true);
      assert.doesNotMatch(named?.status_message ?? '', /not in recovery/, `${elected} is not warned about as a replica`);
      assert.equal(status.servers['john']?.enabled, false, 'john is taken out of the book (fenced)');
      assert.equal(status.servers['john']?.role, 'replica');
      const history = await get<Entry[]>(ctlB, '/failover_history');
      const adoption = history.filter((h) => h.kind === 'adoption');
      assert.equal(adoption.length, 1, JSON.stringify(history));
      assert.equal(adoption[0]?.from, 'john');
      assert.equal(adoption[0]?.to, elected);
      assert.match(adoption[0]?.details ?? '', /^adopted after the agents' election/);
      const agentsEntry = history.find((h) => h.kind === 'failover' && AGENTS_ENTRY_ID.test(h.id));
      assert.ok(agentsEntry, "the agents' own failover entry is in the history");
      assert.match(adoption[0]?.details ?? '', new RegExp(`the agents' own entry: ${agentsEntry.id}`));
      assert.deepEqual(history.filter((h) => h.kind !== 'adoption' && !AGENTS_ENTRY_ID.test(h.id)), [], 'no change by the controller (no failover of the adopted master)');
      assert.equal(await client.get(`${prefix}master`).string(), keyBefore, 'the master key is left as the agents wrote it');
      // What the agents' election did not do, the adoption did, each its own step.
      const steps = adoption[0]?.steps.map((st) => `${st.name}${st.server === null ? '' : ` ${st.server}`} ${st.outcome}`) ?? [];
      assert.deepEqual(steps, [`adopt ${elected} ok`, `connection_failover ${elected} ok`, 'extra_command:note ok'], JSON.stringify(adoption[0]?.steps));
      const routed = await proxy.query('postgres');
      assert.deepEqual([routed.addr, routed.in_recovery], [current.node(elected).host, false], `pgbouncer routes to the adopted master ${elected}`);
      assert.ok(existsSync(marker), 'the extra_failover_command ran');
      assert.equal(readFileSync(marker, 'utf8').trim(), `${elected} from john`);
    } catch (err) {
      const logs = controllers.map((c) => `--- ${c.name} log:\n${tail(join(current.cluster.root, `${c.name}.log`))}\n--- ${c.name} stderr:\n${c.daemon.stderr().slice(-2000)}`);
      const agentLogs = [...agents.values()].map((a) => `--- agent ${a.node.name}:\n${a.output().slice(-2000)}`);
      throw new Error(`${(err as Error).message}\n${[...logs, ...agentLogs].join('\n')}`, { cause: err });
    } finally {
      client.close();
    }
  });
});
