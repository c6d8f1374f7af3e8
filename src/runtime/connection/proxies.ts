/**
 * Connection failover (seed 004 connection_failover, connection_proxy_init, poll_proxies): the
 * connection plugin repoints every enabled proxy server at the master; each proxy's status
 * follows what happened to it (polls of proxies are in ../checks.ts). Proxies never count in the cluster status (they are not database
 * servers), but a failed repoint is a problem the failover reports.
 */
import type { EventLog } from '../../log/event-log.js';
import { describeError } from '../../model/errors.js';
import { failure, success, type Rd } from '../../model/rd.js';
import { readReplicaOrder } from '../../engine/connection-routing.js';
import type { PluginRegistry } from '../../plugins/registry.js';
import type { ConnectionPlugin, ConnectionRouting, PluginContext, ProxyOutcome, ServerRef } from '../../plugins/types.js';
import type { ServerBook } from '../server-book.js';

export interface ProxyEnv {
  book: ServerBook;
  plugins: PluginRegistry;
  ctx: () => PluginContext;
  log: EventLog;
}

export type ConnectionRd = Rd<{ proxies?: Record<string, ProxyOutcome> }>;

/** What finding the plugin and its proxies needs (the checks have it too). */
type ProxyLookup = Pick<ProxyEnv, 'book' | 'ctx' | 'plugins'>;

function ref(env: Pick<ProxyEnv, 'book'>, name: string): ServerRef {
  return { ...env.book.get(name), name };
}

/** The configured connection plugin, or null when connection failover is off. */
export function connectionPlugin(env: ProxyLookup): ConnectionPlugin | null {
  const name = env.ctx().config.failover.connection_failover_method;
  return name === null ? null : env.plugins.get('connection', name);
}

/** Enabled proxy servers the plugin manages, in name order. */
export function proxyNames(env: ProxyLookup, plugin: ConnectionPlugin): string[] {
  return env.book.names().filter((n) => {
    const s = env.book.get(n);
    return s.enabled && plugin.proxyRoles.includes(s.role);
  });
}

/** Master plus its usable replicas, in the engine's order. */
function routingTo(env: ProxyEnv, master: string): ConnectionRouting {
  const replicas = readReplicaOrder(env.book.view().servers, master).map((n) => ref(env, n));
  return { master: ref(env, master), replicas };
}

/** Runs `act` on every proxy in parallel; a failed proxy is marked unavailable with the reason. */
async function onEveryProxy(
  env: ProxyEnv,
  verb: string,
  master: string,
  act: (plugin: ConnectionPlugin, ctx: PluginContext, routing: ConnectionRouting, proxy: ServerRef) => Promise<ProxyOutcome>,
): Promise<ConnectionRd> {
  let plugin: ConnectionPlugin | null;
  try {
    plugin = connectionPlugin(env);
  } catch (err) {
    return failure(describeError(err));
  }
  if (plugin === null) return success('no connection failover configured');
  const names = proxyNames(env, plugin);
  if (names.length === 0) return success(`no enabled server with role ${plugin.proxyRoles.join(' or ')}: nothing to ${verb}`, { proxies: {} });
  const routing = routingTo(env, master);
  const ctx = env.ctx();
  const outcomes = await Promise.all(
    names.map(async (name) => {
      try {
        return [name, await act(plugin, ctx, routing, ref(env, name))] as const;
      } catch (err) {
        return [name, { ok: false, details: `${name}: ${describeError(err)}` }] as const;
      }
    }),
  );
  const proxies: Record<string, ProxyOutcome> = {};
  for (const [name, outcome] of outcomes) {
    proxies[name] = outcome;
    if (outcome.ok) {
      env.book.applyStatus(name, { status: 'healthy', message: `routes clients to ${master}` });
      env.log.info('CONNECTION', outcome.details, name);
    } else {
      env.book.applyStatus(name, { status: 'unavailable', message: `${verb} failed: ${outcome.details}` });
      env.log.error('CONNECTION', outcome.details, name, 'WARNING');
    }
  }
  const failed = outcomes.filter(([, o]) => !o.ok).map(([, o]) => o.details);
  if (failed.length > 0) return failure(`connection ${verb} failed for ${failed.length} of ${names.length} proxies: ${failed.join('; ')}`, { proxies });
  return success(`${names.length} ${names.length === 1 ? 'proxy routes' : 'proxies route'} clients to ${master}: ${names.join(', ')}`, { proxies });
}

/** Points every proxy at `master` (after a failover, or on request). */
export function connectionFailover(env: ProxyEnv, master: string): Promise<ConnectionRd> {
  return onEveryProxy(env, 'failover', master, (plugin, ctx, routing, proxy) => plugin.run(ctx, routing, proxy));
}

/** First-time set-up of every proxy, checked with a session through it. */
export function connectionProxyInit(env: ProxyEnv, master: string): Promise<ConnectionRd> {
  return onEveryProxy(env, 'init', master, (plugin, ctx, routing, proxy) => plugin.init(ctx, routing, proxy));
}
