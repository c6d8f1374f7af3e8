/**
 * Starting and stopping the daemon: one process, one HandyRep, one HTTP(S) listener. Start order:
 * configuration (daemon section, TLS files) → HandyRep.open (takes the state lock; a second
 * daemon on the same server_file fails here with LOCKED) → auth plugin → monitoring → listen.
 * Stop order: stop accepting (in-flight requests finish) → stop monitoring → close HandyRep
 * (persists, releases the lock). Any start failure undoes what was started.
 */
import { readFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { HandyRep } from '../api/handyrep.js';
import { OPERATIONS } from '../api/operations.js';
import { loadConfigFile } from '../config/load.js';
import { resolvePath } from '../config/merge.js';
import type { DaemonSection } from '../config/schema.js';
import { HandyRepError } from '../model/errors.js';
import { isSuccess, type RdResult } from '../model/rd.js';
import { buildDaemonApp, type ConnectionLimits } from './app.js';
import type { ThrottleOptions } from './auth-throttle.js';
import { AuthProvider } from './auth-provider.js';
import { handyRepBackend } from './backend.js';
import { packageVersion } from './version.js';

/** Overrides for tests and embedding; by default everything comes from the configuration. */
export interface DaemonOptions {
  /** Listen on this port instead of daemon.listen_port (tests use 0: any free port). */
  port?: number;
  /** Listen on this address instead of daemon.listen_address. */
  host?: string;
  /** Run the monitoring schedule (default true; API tests turn it off to keep state still). */
  monitor?: boolean;
  /** Where start-up notices go (default: standard error). */
  notice?: (line: string) => void;
}

/** A started daemon. */
export interface RunningDaemon {
  /** Base URL, e.g. http://127.0.0.1:8080 */
  readonly url: string;
  readonly hr: HandyRep;
  readonly app: FastifyInstance;
  /** Stop accepting, stop monitoring, close HandyRep. Idempotent. */
  stop(): Promise<void>;
  /**
   * What SIGHUP does: reopen the log file at its path (logrotate renamed it), then reload the
   * configuration file the daemon runs with, as reload_conf does, and the passwords with it.
   */
  reload(): Promise<RdResult>;
}

/** Start the daemon for a configuration file (see the file comment for the order of steps). */
export async function startDaemon(configFile: string, options: DaemonOptions = {}): Promise<RunningDaemon> {
  const notice = options.notice ?? ((line: string) => process.stderr.write(`${line}\n`));
  const loaded = loadConfigFile(resolve(configFile));
  const { config, dir } = loaded;
  const settings = config.daemon;
  const tls = await readTls(settings, dir);
  const hr = await HandyRep.open(configFile);
  let auth: AuthProvider | null = null;
  let app: FastifyInstance | null = null;
  try {
    auth = await AuthProvider.load(loaded, hr.events);
    const provider = auth;
    const backend = handyRepBackend(hr);
    app = buildDaemonApp({
      backend,
      auth: () => provider.current(),
      throttle: throttleOptions(settings),
      limits: connectionLimits(settings),
      tls,
      // reload_conf is the one operation that changes the configuration: follow it for passwords.
      afterCall: async (name, result) => {
        if (name === 'reload_conf' && isRd(result) && isSuccess(result)) await provider.reload(backend.configFile);
      },
      version: packageVersion(),
    });
    await warnIfOpen(provider, hr, notice);
    if (options.monitor ?? true) hr.startMonitoring();
    await app.listen({ host: options.host ?? settings.listen_address, port: options.port ?? settings.listen_port });
  } catch (err) {
    await app?.close().catch(() => undefined);
    await hr.stopMonitoring().catch(() => undefined);
    await hr.close().catch(() => undefined);
    await auth?.close().catch(() => undefined);
    throw err;
  }
  const address = app.server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `${tls ? 'https' : 'http'}://${host}:${address.port}`;
  hr.events.info('DAEMON', `REST API listening on ${url} (authentication ${config.handyrep.authentication_method})`);
  notice(`handyrep daemon: listening on ${url}, cluster ${config.handyrep.cluster_name}, pid ${process.pid}`);
  if (!tls && !isLoopback(address.address) && config.handyrep.authentication_method !== 'zero_auth') {
    notice('handyrep daemon: WARNING: passwords cross the network in clear text; set daemon.tls_cert and daemon.tls_key');
  }

  const listening = app;
  const providerToClose = auth;
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      await listening.close();
      await hr.stopMonitoring();
      await hr.close();
      await providerToClose.close();
    })();
    return stopping;
  };
  const reload = async (): Promise<RdResult> => {
    hr.events.reopen();
    const rd = await hr.reload_conf();
    if (isSuccess(rd)) await providerToClose.reload(hr.configFile);
    hr.events.info('DAEMON', `SIGHUP: log file reopened; configuration ${isSuccess(rd) ? 'reloaded' : `not reloaded: ${rd.details}`}`);
    return rd.result;
  };
  return { url, hr, app: listening, stop, reload };
}

function throttleOptions(settings: DaemonSection): ThrottleOptions {
  return {
    baseMs: settings.auth_failure_delay_seconds * 1000,
    maxMs: settings.auth_failure_delay_max_seconds * 1000,
    perPrefixLimit: settings.auth_failures_per_address,
    globalLimit: settings.auth_failures_total,
    windowMs: settings.auth_failure_window_seconds * 1000,
    maxPending: settings.max_unauthenticated_requests,
  };
}

function connectionLimits(settings: DaemonSection): ConnectionLimits {
  return {
    maxConnections: settings.max_connections,
    headerTimeoutMs: settings.header_timeout_seconds * 1000,
    requestTimeoutMs: settings.request_timeout_seconds * 1000,
    keepAliveTimeoutMs: settings.keep_alive_timeout_seconds * 1000,
  };
}

async function readTls(settings: DaemonSection, dir: string): Promise<{ cert: Buffer; key: Buffer } | null> {
  if (settings.tls_cert === null || settings.tls_key === null) return null;
  const read = async (key: 'tls_cert' | 'tls_key', path: string): Promise<Buffer> => {
    try {
      return await readFile(resolvePath(dir, path));
    } catch (err) {
      throw new HandyRepError('CONFIG_UNREADABLE', `daemon.${key}: cannot read ${path}: ${(err as Error).message}`);
    }
  };
  return { cert: await read('tls_cert', settings.tls_cert), key: await read('tls_key', settings.tls_key) };
}

/** Say loudly when the auth plugin lets an anonymous caller run admin functions (zero_auth). */
async function warnIfOpen(provider: AuthProvider, hr: HandyRep, notice: (line: string) => void): Promise<void> {
  const admin = OPERATIONS.find((op) => op.web && op.access === 'admin');
  if (!admin) return;
  const { plugin, ctx } = provider.current();
  const probe = await plugin.authenticate(ctx, { username: null, password: null, functionName: admin.name, access: 'admin', remoteAddress: '(start-up check)' });
  if (!probe.ok) return;
  const message = `the REST API is UNAUTHENTICATED (authentication_method ${plugin.name}): anyone who can reach it can run every function, failover included`;
  hr.events.warn('DAEMON', message);
  notice(`handyrep daemon: WARNING: ${message}`);
}

function isRd(value: unknown): value is { result: RdResult } {
  return typeof value === 'object' && value !== null && typeof (value as { result?: unknown }).result === 'string';
}

function isLoopback(address: string): boolean {
  return address.startsWith('127.') || address === '::1' || address === '::ffff:127.0.0.1';
}
