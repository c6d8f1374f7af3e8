/**
 * One bare process of bench/agent-floor.ts: every second it does one of the things an agent's idle
 * round is made of, through the agent's own lean clients, and nothing else.
 *   node agent-floor-child.mjs <mode> <etcd endpoint> <lease id> <PostgreSQL socket folder>
 */
import { FACTS_QUERY } from '../src/agent/local-postgres.js';
import { LeanPgSession } from '../src/nodes/lean-pg/session.js';
import { LeanEtcd } from '../src/store/etcd/lean/client.js';
import { LeanKeepalive } from '../src/store/etcd/lean/keepalive.js';
import { FLOOR_MODES, type FloorMode } from './agent-floor-modes.js';

const [mode, endpoint, leaseId, socketDir] = process.argv.slice(2) as [FloorMode, string, string, string];
if (!FLOOR_MODES.includes(mode)) throw new Error(`mode: one of ${FLOOR_MODES.join(', ')}, not ${String(mode)}`);
const etcd = new LeanEtcd({ endpoints: [endpoint], tls: null, auth: null });
const keepalive = new LeanKeepalive(etcd);
const pg = await LeanPgSession.connect({ host: socketDir, port: 5432, user: 'postgres', database: 'postgres', applicationName: 'agent-floor', allowedPasswordMethods: [], connectTimeoutMs: 2000 });
// The agent's master: a 1 s round, a 499 ms keep-alive attempt (callMs 999).
const facts = (): Promise<unknown> => pg.query(FACTS_QUERY, 2000);
const renew = (): Promise<unknown> => keepalive.keepalive(leaseId, 999);
const work: Record<FloorMode, () => Promise<unknown>> = {
  timer: async () => undefined,
  facts,
  keepalive: renew,
  facts_then_keepalive: async () => {
    await facts();
    await renew();
  },
  same_tick: () => Promise.all([renew(), facts()]),
};
const round = (): void => {
  work[mode]().then(
    () => setTimeout(round, 1000),
    (err: unknown) => {
      console.error(`${mode}: ${err instanceof Error ? err.message : String(err)}`);
      process.exit(1);
    },
  );
};
setTimeout(round, 1000);
