/**
 * Starting and stopping the daemon: one process, one HandyRep, one HTTP(S) listener. Start order:
 * configuration (daemon section, TLS files) → HandyRep.open (takes the state lock; a second
 * daemon on the same server_file fails here with LOCKED) → its auth plugin checked (an open one only
 * on loopback with allow_unauthenticated) → monitoring → listen.
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
import { buildDaemonApp } from './app.js';
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
}

/** Start the daemon for a configuration file (see the file comment for the order of steps). */
export async function startDaemon(configFile: string, options: DaemonOptions = {}): Promise<RunningDaemon> {
  const notice = options.notice ?? ((line: string) => process.stderr.write(`${line}\n`));
  const loaded = loadConfigFile(resolve(configFile));
  const { config, dir } = loaded;
  const settings = config.daemon;
  const tls = await readTls(settings, dir);
  const hr = await HandyRep.open(configFile);
  let app: FastifyInstance | null = null;
  try {
    const backend = handyRepBackend(hr);
    app = buildDaemonApp({
      backend,
      // HandyRep's own plugin and context: reload_conf rebuilds the context, new passwords apply at once.
      auth: () => hr.authBinding(),
      throttle: { baseMs: settings.auth_failure_delay_seconds * 1000, maxMs: settings.auth_failure_delay_max_seconds * 1000 },
      tls,
      version: packageVersion(),
    });
    await refuseOrWarnIfOpen(hr, notice, { host: options.host ?? settings.listen_address, allowed: settings.allow_unauthenticated });
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
  return { url, hr, app: listening, stop };
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

/**
 * An auth plugin that lets an anonymous caller run admin functions (zero_auth) gives anybody who
 * reaches the port every action: refused unless the daemon listens on loopback only and the
 * configuration says so (daemon.allow_unauthenticated); when allowed, said loudly.
 */
async function refuseOrWarnIfOpen(hr: HandyRep, notice: (line: string) => void, listen: { host: string; allowed: boolean }): Promise<void> {
  const admin = OPERATIONS.find((op) => op.web && op.access === 'admin');
  if (!admin) return;
  const { plugin, ctx } = hr.authBinding();
  const probe = await plugin.authenticate(ctx, { username: null, password: null, functionName: admin.name, access: 'admin', remoteAddress: '(start-up check)' });
  if (!probe.ok) return;
  if (!listen.allowed || !isLoopback(listen.host)) {
    const why = [
      listen.allowed ? '' : 'daemon.allow_unauthenticated is not true',
      isLoopback(listen.host) ? '' : `daemon.listen_address ${listen.host} is not a loopback address`,
    ].filter(Boolean).join(' and ');
    throw new HandyRepError(
      'CONFIG_INVALID',
      `handyrep.authentication_method ${plugin.name} lets anybody run every function: refusing to start because ${why}. ` +
        'Use simple_password_auth (passwords.admin_password, passwords.read_password), or set daemon.listen_address to a loopback address (127.0.0.1 or ::1) and daemon.allow_unauthenticated: true.',
    );
  }
  const message = `the REST API is UNAUTHENTICATED (authentication_method ${plugin.name}): anyone who can reach it can run every function, failover included`;
  hr.events.warn('DAEMON', message);
  notice(`handyrep daemon: WARNING: ${message}`);
}

function isLoopback(address: string): boolean {
  return address.startsWith('127.') || address === '::1' || address === '::ffff:127.0.0.1' || address === 'localhost';
}
