/**
 * Starting and stopping the daemon: one process, one HandyRep, one HTTP(S) listener. Start order:
 * configuration (daemon section, TLS files) → HandyRep.open (takes the state lock; a second
 * daemon on the same server_file fails here with LOCKED) → its auth plugin checked (an open one only
 * on loopback with allow_unauthenticated) → monitoring → listen.
 * Stop order: stop accepting (in-flight requests finish) → stop monitoring → close HandyRep
 * (persists, releases the lock). Any start failure undoes what was started.
 */
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { HandyRep } from '../api/handyrep.js';
import { loadConfigFile } from '../config/load.js';
import type { DaemonSection } from '../config/schema.js';
import { HandyRepError } from '../model/errors.js';
import { isSuccess, type RdResult } from '../model/rd.js';
import { buildDaemonApp, type ConnectionLimits } from './app.js';
import { isLoopback, judgeOpenAuth } from './open-auth.js';
import { throttleOptionsOf } from './auth-throttle.js';
import { handyRepBackend } from './backend.js';
import { readTlsFiles } from './tls-files.js';
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
  const tls = await readTlsFiles(settings, dir, 'daemon');
  const hr = await HandyRep.open(configFile);
  let app: FastifyInstance | null = null;
  try {
    const backend = handyRepBackend(hr);
    app = buildDaemonApp({
      backend,
      // HandyRep's own plugin and context: reload_conf rebuilds the context, new passwords apply at once.
      auth: () => hr.authBinding(),
      throttle: throttleOptionsOf(settings),
      limits: connectionLimits(settings),
      tls,
      version: packageVersion(),
      sessionIdleMs: () => settings.dashboard_session_idle_seconds * 1000,
    });
    const host = options.host ?? settings.listen_address;
    await refuseOrWarnIfOpen(hr, notice, { host, allowed: settings.allow_unauthenticated });
    // A reload (reload_conf, SIGHUP) may not open the API either: checked before it applies.
    hr.onReloadCheck(async (binding, candidate) => (await judgeOpenAuth(binding, { host, allowed: candidate.daemon.allow_unauthenticated })).problem);
    if (options.monitor ?? true) hr.startMonitoring();
    await app.listen({ host: options.host ?? settings.listen_address, port: options.port ?? settings.listen_port });
  } catch (err) {
    await app?.close().catch(() => undefined);
    await hr.stopMonitoring().catch(() => undefined);
    await hr.close().catch(() => undefined);
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
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      await listening.close();
      await hr.stopMonitoring();
      await hr.close();
    })();
    return stopping;
  };
  const reload = async (): Promise<RdResult> => {
    hr.events.reopen();
    const rd = await hr.reload_conf();
    hr.events.info('DAEMON', `SIGHUP: log file reopened; configuration ${isSuccess(rd) ? 'reloaded' : `not reloaded: ${rd.details}`}`);
    return rd.result;
  };
  return { url, hr, app: listening, stop, reload };
}

function connectionLimits(settings: DaemonSection): ConnectionLimits {
  return {
    maxConnections: settings.max_connections,
    headerTimeoutMs: settings.header_timeout_seconds * 1000,
    requestTimeoutMs: settings.request_timeout_seconds * 1000,
    keepAliveTimeoutMs: settings.keep_alive_timeout_seconds * 1000,
  };
}

/** Refuse to start with an open API where it is not allowed; when allowed, say so loudly. */
async function refuseOrWarnIfOpen(hr: HandyRep, notice: (line: string) => void, listen: { host: string; allowed: boolean }): Promise<void> {
  const verdict = await judgeOpenAuth(hr.authBinding(), listen);
  if (verdict.problem !== null) throw new HandyRepError('CONFIG_INVALID', `refusing to start: ${verdict.problem}`);
  if (!verdict.open) return;
  const message = `the REST API is UNAUTHENTICATED (authentication_method ${verdict.plugin}): anyone who can reach it can run every function, failover included`;
  hr.events.warn('DAEMON', message);
  notice(`handyrep daemon: WARNING: ${message}`);
}
