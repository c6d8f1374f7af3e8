/**
 * multi_pgbouncer: every enabled server of role `pgbouncer` gets a databases file pointing at the
 * current master (read-only aliases at replicas), written atomically over its control channel,
 * then pgbouncer re-reads it (`RELOAD` on its admin console). pgbouncer closes server connections
 * whose database definition changed and opens new ones to the new master; clients keep their
 * pgbouncer address. Poll: a session through the bouncer to the handyrep database.
 */
import { readFile } from 'node:fs/promises';
import { isAbsolute } from 'node:path';
import { z } from 'zod';
import { pathSchema } from '../../config/validators.js';
import { describeError } from '../../model/errors.js';
import { pollSession } from '../poll/poll_connect.js';
import type { PollOutcome } from '../../engine/observations.js';
import type { SqlTarget } from '../../nodes/ports.js';
import { pluginSettings } from '../settings.js';
import { atomicWriteArgv } from '../node-file.js';
import { settingsCheck, type ConfigCheckedPlugin } from '../config-check.js';
import type { ConnectionPlugin, ConnectionRouting, PluginContext, ProxyOutcome, ServerRef } from '../types.js';
import { bouncerConfigFile, bouncerDatabaseLines } from './pgbouncer-databases.js';

const NAME = 'multi_pgbouncer';

const databaseName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,62}$/, 'must be letters, digits and "_", starting with a letter or "_"');
const connectParam = /^[a-z_]+=[A-Za-z0-9_.:/@-]+$/;

const settingsSchema = z
  .object({
    config_location: pathSchema
      .refine(isAbsolute, 'must be an absolute path')
      .default('/etc/pgbouncer/handyrep_databases.ini')
      .describe('File written on each pgbouncer host: the whole pgbouncer.ini (with template) or a [databases] file to %include.'),
    template: pathSchema.nullable().default(null).describe('Controller-side template of the whole pgbouncer.ini, with {{ dbsection }} and {{ port }}; null = write only a [databases] section.'),
    database_list: z.array(databaseName).default([]).describe('Databases routed through pgbouncer; the handyrep database is always added.'),
    readonly_suffix: z.string().regex(/^[A-Za-z0-9_]{1,20}$/, 'must be 1-20 letters, digits or "_"').nullable().default('_ro').describe('Suffix of the read-only alias of each database; null = none.'),
    all_replicas: z.boolean().default(false).describe('One read-only alias per replica (<db><suffix>1, 2, …) instead of one to the best replica.'),
    extra_connect_param: z
      .string()
      .refine((v) => v.trim() === '' || v.trim().split(/ +/).every((p) => connectParam.test(p)), 'must be space-separated key=value pairs without quotes')
      .default('')
      .describe('key=value pairs added to every database line (e.g. "pool_size=20").'),
    admin_database: databaseName.default('pgbouncer').describe('pgbouncer admin console database (the handyrep user must be in admin_users).'),
  })
  .strict();

type Settings = z.output<typeof settingsSchema>;

function settingsOf(ctx: PluginContext): Settings {
  return pluginSettings(ctx, NAME, settingsSchema);
}

/** A session through pgbouncer: no statement_timeout startup parameter, which pgbouncer refuses. */
function bouncerTarget(ctx: PluginContext, proxy: ServerRef, database: string): SqlTarget {
  return { ...ctx.sqlTarget(proxy), database, statementTimeoutMs: 0 };
}

async function renderFile(ctx: PluginContext, settings: Settings, routing: ConnectionRouting, proxy: ServerRef): Promise<string> {
  const databases = [...new Set([...settings.database_list, ctx.config.handyrep.handyrep_db])];
  const lines = bouncerDatabaseLines({
    master: { name: routing.master.name, host: routing.master.hostname, port: routing.master.port },
    replicas: routing.replicas.map((r) => ({ name: r.name, host: r.hostname, port: r.port })),
    databases,
    readonlySuffix: settings.readonly_suffix,
    allReplicas: settings.all_replicas,
    extraConnectParam: settings.extra_connect_param,
  });
  const template = settings.template === null ? null : await readFile(settings.template, 'utf8');
  return bouncerConfigFile(lines, template, proxy.port);
}

/** Writes the file atomically (temp file, rename) on the proxy's host. */
async function pushFile(ctx: PluginContext, proxy: ServerRef, path: string, content: string): Promise<ProxyOutcome> {
  try {
    const argv = atomicWriteArgv(path, { umask: '022', mode: '644' }, 'handyrep_pgbouncer_push');
    const result = await ctx.shellFor(proxy).run(argv, { timeoutMs: ctx.timeouts.commandMs, stdin: content });
    if (result.exitCode !== 0) return { ok: false, details: `${proxy.name}: writing ${path} failed: ${result.stderr.trim() || `exit ${result.exitCode}`}` };
    return { ok: true, details: `${proxy.name}: ${path} written` };
  } catch (err) {
    return { ok: false, details: `${proxy.name}: writing ${path} failed: ${describeError(err)}` };
  }
}

/** `RELOAD` on the admin console: pgbouncer re-reads its files and repoints changed databases. */
async function reload(ctx: PluginContext, proxy: ServerRef, adminDatabase: string): Promise<ProxyOutcome> {
  let session;
  try {
    session = await ctx.sql.connect(bouncerTarget(ctx, proxy, adminDatabase));
  } catch (err) {
    return { ok: false, details: `${proxy.name}: pgbouncer admin console unreachable: ${describeError(err)}` };
  }
  try {
    await session.query('RELOAD');
    return { ok: true, details: `${proxy.name}: pgbouncer reloaded` };
  } catch (err) {
    return { ok: false, details: `${proxy.name}: RELOAD failed: ${describeError(err)}` };
  } finally {
    await session.end();
  }
}

async function repoint(ctx: PluginContext, routing: ConnectionRouting, proxy: ServerRef): Promise<ProxyOutcome> {
  let settings: Settings;
  let content: string;
  try {
    settings = settingsOf(ctx);
    content = await renderFile(ctx, settings, routing, proxy);
  } catch (err) {
    return { ok: false, details: `${proxy.name}: ${describeError(err)}` };
  }
  const pushed = await pushFile(ctx, proxy, settings.config_location, content);
  if (!pushed.ok) return pushed;
  const reloaded = await reload(ctx, proxy, settings.admin_database);
  if (!reloaded.ok) return reloaded;
  return { ok: true, details: `${proxy.name}: databases point at ${routing.master.name} (${routing.master.hostname}:${routing.master.port}); pgbouncer reloaded` };
}

/** A session through the bouncer to the handyrep database: clients get through to a server. */
function pollBouncer(ctx: PluginContext, proxy: ServerRef): Promise<PollOutcome> {
  return pollSession(ctx, bouncerTarget(ctx, proxy, ctx.config.handyrep.handyrep_db));
}

export const multiPgbouncer: ConnectionPlugin & ConfigCheckedPlugin = {
  name: NAME,
  checkConfig: settingsCheck(NAME, settingsSchema),
  kind: 'connection',
  description: 'Points every pgbouncer server at the current master: writes its databases file over the control channel, then RELOAD.',
  proxyRoles: ['pgbouncer'],
  run: repoint,
  async init(ctx, routing, proxy) {
    const done = await repoint(ctx, routing, proxy);
    if (!done.ok) return done;
    const check = await pollBouncer(ctx, proxy);
    return check.ok ? done : { ok: false, details: `${done.details}, but a session through it failed: ${check.reason}` };
  },
  poll: pollBouncer,
};
