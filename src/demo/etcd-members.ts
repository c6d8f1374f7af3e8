/**
 * How an etcd member of a local cluster is started and when the cluster is usable: the command
 * line of Debian's etcd-server 3.4 for one member on its own loopback address, and the health
 * wait. Shared by `npm start -- --ha` (the demo) and the test fixture, so both run etcd the
 * same way.
 */
export const ETCD_BIN = '/usr/bin/etcd';
export const ETCD_CLIENT_PORT = 2379;
export const ETCD_PEER_PORT = 2380;

export interface EtcdMemberSpec {
  name: string;
  host: string;
  clientUrl: string;
  peerUrl: string;
}

export function etcdMemberSpec(name: string, host: string): EtcdMemberSpec {
  return { name, host, clientUrl: `http://${host}:${ETCD_CLIENT_PORT}`, peerUrl: `http://${host}:${ETCD_PEER_PORT}` };
}

/** `--initial-cluster` of these members. */
export function initialCluster(specs: readonly EtcdMemberSpec[]): string {
  return specs.map((s) => `${s.name}=${s.peerUrl}`).join(',');
}

/**
 * The arguments of one member. A member with data already (a restart) ignores the initial
 * cluster settings and rejoins with its data.
 */
export function etcdMemberArgs(spec: EtcdMemberSpec, dataDir: string, cluster: string, token: string): string[] {
  return [
    '--name', spec.name,
    '--data-dir', dataDir,
    '--listen-client-urls', spec.clientUrl,
    '--advertise-client-urls', spec.clientUrl,
    '--listen-peer-urls', spec.peerUrl,
    '--initial-advertise-peer-urls', spec.peerUrl,
    '--initial-cluster', cluster,
    '--initial-cluster-state', 'new',
    '--initial-cluster-token', token,
    // Quick elections on loopback: a stopped member's place is taken within about a second.
    '--heartbeat-interval', '50',
    '--election-timeout', '500',
    '--logger', 'zap',
    '--log-level', 'warn',
  ];
}

/** GET on a member's client port; null when it does not answer within timeoutMs. */
export async function etcdGetJson(url: string, timeoutMs: number): Promise<unknown> {
  try {
    const reply = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    return (await reply.json()) as unknown;
  } catch {
    return null;
  }
}

/**
 * Waits until a running member's /health says the cluster has a leader and quorum. `running`
 * says which members still run (an exited member is not asked; all exited is an error at once).
 */
export async function waitEtcdHealthy(specs: readonly EtcdMemberSpec[], running: (spec: EtcdMemberSpec) => boolean, timeoutMs: number, exitedDetails: () => string = () => ''): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no member answered';
  while (Date.now() < deadline) {
    if (specs.every((s) => !running(s))) throw new Error(`every etcd member exited${exitedDetails()}`);
    for (const spec of specs) {
      if (!running(spec)) continue;
      const health = await etcdGetJson(`${spec.clientUrl}/health`, 500);
      if (typeof health === 'object' && health !== null && (health as { health?: unknown }).health === 'true') return;
      if (health !== null) last = `${spec.name}: ${JSON.stringify(health)}`;
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`etcd cluster not healthy within ${timeoutMs} ms (${last})`);
}
