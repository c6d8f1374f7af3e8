/**
 * Connection failover (seed 004 connection_failover, connection_proxy_init, poll_proxies): the
 * connection plugin repoints every enabled proxy server at the master; each proxy's status
 * follows what happened to it. Proxies never count in the cluster status (they are not database
 * servers), but a failed repoint is a problem the failover reports.
 */
import type { EventLog } from '../../log/event-log.js';
import { describeError } from '../../model/errors.js';
import { failure, success, type Rd } from '../../model/rd.js';
import { isAvailableStatus, type ServerStatusName } from '../../model/status.js';
import type { PollOutcome } from '../../engine/observations.js';
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
export type ProxyPollRd = Rd<{ status: ServerStatusName }>;

function ref(env: ProxyEnv, name: string): ServerRef {
  return { ...env.book.get(name), name };
}

/** The configured connection plugin, or null when connection failover is off. */
export function connectionPlugin(env: ProxyEnv): ConnectionPlugin | null {
  const name = env.ctx().config.failover.connection_failover_method;
  return name === null ? null : env.plugins.get('connection', name);
}

/** Enabled proxy servers the plugin manages, in name order. */
export function proxyNames(env: ProxyEnv, plugin: ConnectionPlugin): string[] {
  return env.book.names().filter((n) => {
    const s = env.book.get(n);
    return s.enabled && plugin.proxyRoles.includes(s.role);
  });
}

/** Master plus its usable replicas, lowest failover_priority first. */
function routingTo(env: ProxyEnv, master: string): ConnectionRouting {
  const replicas = env.book
    .names()
    .filter((n) => {
      const s = env.book.get(n);
      return n !== master && s.role === 'replica' && s.enabled && isAvailableStatus(s.status);
    })
    .sort((a, b) => env.book.get(a).failover_priority - env.book.get(b).failover_priority || a.localeCompare(b))
    .map((n) => ref(env, n));
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

/** Polls one proxy through the connection plugin and records its status. */
export async function pollProxy(env: ProxyEnv, name: string): Promise<ProxyPollRd> {
  const record = env.book.get(name);
  let plugin: ConnectionPlugin | null;
  try {
    plugin = connectionPlugin(env);
  } catch (err) {
    return failure(describeError(err), { status: record.status });
  }
  if (plugin === null || !plugin.proxyRoles.includes(record.role)) {
    return success(`${name}: no connection failover plugin manages role ${record.role}; not polled`, { status: record.status });
  }
  let outcome: PollOutcome;
  try {
    outcome = await plugin.poll(env.ctx(), ref(env, name));
  } catch (err) {
    outcome = { ok: false, kind: 'other', reason: describeError(err), latencyMs: 0 };
  }
  if (outcome.ok) {
    env.book.applyStatus(name, { status: 'healthy', message: `clients get through (${outcome.latencyMs} ms)` });
    return success(`${name}: clients get through`, { status: 'healthy' });
  }
  const status: ServerStatusName = outcome.kind === 'refused' ? 'down' : 'unavailable';
  env.book.applyStatus(name, { status, message: outcome.reason });
  return failure(`${name}: ${outcome.reason}`, { status });
}
