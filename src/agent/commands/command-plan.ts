/**
 * What the agent runs for a validated request (command-table.ts), from ITS OWN configuration: the
 * paths, binaries, flags and hosts come from the node's server entry and the plugins' settings
 * there, never from the record. Pure; command-runner.ts does it.
 */
import { resolveServer } from '../../config/merge.js';
import type { HandyRepConfig } from '../../config/schema.js';
import { deleteArchiveArgv, listArchiveArgv } from '../../plugins/archive/archive_delete_find.js';
import { settingsSchema as archiveTemplate } from '../../plugins/archive/archive_local_dir.js';
import { pgCtlArgv, settingsSchema as pgCtlSettings } from '../../plugins/restart/restart_pg_ctl.js';
import { settingsSchema as systemdSettings, systemctlArgv } from '../../plugins/restart/restart_systemd.js';
import type { ServerRef } from '../../plugins/types.js';
import { confLines } from '../../nodes/pg-conf-quote.js';
import { inspectFolderArgv } from '../../runtime/clone/target-node.js';
import { primaryConninfoFor } from '../../runtime/topology/remaster.js';
import type { CommandRequest } from './command-table.js';

export type ResolvedServer = Pick<ServerRef, 'name' | 'hostname' | 'port' | 'pgdata' | 'pgconf' | 'pg_bin_dir' | 'sslmode' | 'sslrootcert' | 'control_method'>;

/** What to do on the node. */
export type LocalStep =
  /** `wholeOutput`: its stdout is answered whole (up to WHOLE_OUTPUT_LIMIT) or refused, never cut to its tail (a listing). */
  | { readonly kind: 'argv'; readonly argv: readonly string[]; readonly wholeOutput?: true }
  | { readonly kind: 'append_file'; readonly path: string; readonly text: string }
  /** An empty file; `makeParent`: its folder made first (not for files in the data folder: a missing one stays missing). */
  | { readonly kind: 'write_file'; readonly path: string; readonly makeParent?: boolean }
  | { readonly kind: 'make_dir'; readonly path: string }
  /** archive_local_dir's script rendered here (the template file, if any, is read on this node). */
  | { readonly kind: 'archive_script'; readonly path: string; readonly template: string | null; readonly values: Readonly<Record<string, string>> }
  | { readonly kind: 'remove_file'; readonly path: string }
  | { readonly kind: 'rewind'; readonly self: ResolvedServer; readonly source: ResolvedServer }
  /** boot-clone.ts's copy, run by clone-step.ts. */
  | { readonly kind: 'clone'; readonly node: string; readonly source: string; readonly upstream: string; readonly oldData: 'none' | 'move' | 'delete'; readonly restoreCommand: boolean };

export function resolvedServer(config: Readonly<HandyRepConfig>, name: string): ResolvedServer | null {
  const entry = Object.hasOwn(config.servers, name) ? config.servers[name] : undefined;
  return entry ? { ...resolveServer(config.server_defaults, entry), name } : null;
}

/** The step for `request` on `node`, or why it cannot be run here (nothing runs then). */
export function planCommand(config: Readonly<HandyRepConfig>, node: string, request: CommandRequest): { ok: true; step: LocalStep } | { ok: false; problem: string } {
  const self = resolvedServer(config, node);
  if (self === null) return { ok: false, problem: `no server ${node} in the agent's configuration` };
  const other = (name: string): ResolvedServer | null => resolvedServer(config, name);
  const differs = configurationDiffers(request, self, request.action === 'isready' ? other(request.server) : null);
  if (differs !== null) return { ok: false, problem: `configuration differs: ${differs}; nothing run (make the agent's and the controller's server entries the same)` };
  const pgCtl = `${self.pg_bin_dir}/pg_ctl`;
  switch (request.action) {
    case 'pg_ctl': {
      const settings = pgCtlSettings.safeParse(config.plugins['restart_pg_ctl'] ?? {});
      if (!settings.success) return { ok: false, problem: 'plugins.restart_pg_ctl is invalid in the agent\'s configuration' };
      return { ok: true, step: { kind: 'argv', argv: pgCtlArgv(self as ServerRef, request.op, settings.data.pg_ctl_flags, settings.data.startup_log, request.wait_s) } };
    }
    case 'systemctl': {
      const settings = systemdSettings.safeParse(config.plugins['restart_systemd'] ?? {});
      if (!settings.success) return { ok: false, problem: 'plugins.restart_systemd is invalid in the agent\'s configuration' };
      return { ok: true, step: { kind: 'argv', argv: systemctlArgv(request.op, settings.data.service_name, settings.data.use_sudo, settings.data.systemctl_path) } };
    }
    case 'promote':
      return { ok: true, step: { kind: 'argv', argv: [pgCtl, '-D', self.pgconf ?? self.pgdata, '-w', '-t', String(request.wait_s), 'promote'] } };
    case 'controldata':
      return { ok: true, step: { kind: 'argv', argv: [`${self.pg_bin_dir}/pg_controldata`, '-D', self.pgdata] } };
    case 'isready': {
      const target = other(request.server);
      if (target === null) return { ok: false, problem: `isready: no server ${request.server} in the agent's configuration` };
      return { ok: true, step: { kind: 'argv', argv: [`${self.pg_bin_dir}/pg_isready`, '-q', '-h', target.hostname, '-p', String(target.port), '-t', String(request.timeout_s)] } };
    }
    case 'test':
      return { ok: true, step: { kind: 'argv', argv: [...config.handyrep.test_ssh_command] } };
    case 'clear_standby_signal':
      return { ok: true, step: { kind: 'remove_file', path: `${self.pgdata}/standby.signal` } };
    case 'standby_signal':
      return { ok: true, step: { kind: 'write_file', path: `${self.pgdata}/standby.signal` } };
    case 'set_upstream': {
      const upstream = other(request.upstream);
      if (upstream === null) return { ok: false, problem: `set_upstream: no server ${request.upstream} in the agent's configuration` };
      if (upstream.name === self.name) return { ok: false, problem: 'set_upstream: a node cannot stream from itself' };
      // As the agent's own standby boot does (boot-standby.ts); the last setting in the file wins.
      return { ok: true, step: { kind: 'append_file', path: `${self.pgdata}/postgresql.auto.conf`, text: confLines({ primary_conninfo: primaryConninfoFor(config, self.name, upstream) }) } };
    }
    case 'archive_list':
    case 'archive_delete': {
      const directory = config.archive.archive_directory;
      if (directory === null) return { ok: false, problem: `${request.action}: archive.archive_directory is not set in the agent's configuration` };
      // A cut listing would hide the newest .backup file from the cleanup's decision: whole or refused.
      if (request.action === 'archive_list') return { ok: true, step: { kind: 'argv', argv: listArchiveArgv(directory), wholeOutput: true } };
      return { ok: true, step: { kind: 'argv', argv: deleteArchiveArgv(directory, request.files) } };
    }
    case 'archive_dir':
    case 'archive_push': {
      const directory = config.archive.archive_directory;
      if (directory === null) return { ok: false, problem: `${request.action}: archive.archive_directory is not set in the agent's configuration` };
      if (request.action === 'archive_dir') return { ok: true, step: { kind: 'make_dir', path: directory } };
      const template = archiveTemplate.safeParse(config.plugins['archive_local_dir'] ?? {});
      if (!template.success) return { ok: false, problem: 'plugins.archive_local_dir is invalid in the agent\'s configuration' };
      const values = { archive_directory: directory, no_archive_file: config.archive.no_archive_file };
      return { ok: true, step: { kind: 'archive_script', path: config.archive.archive_script_path, template: template.data.template, values } };
    }
    case 'archive_start':
      return { ok: true, step: { kind: 'remove_file', path: config.archive.no_archive_file } };
    case 'archive_stop':
      return { ok: true, step: { kind: 'write_file', path: config.archive.no_archive_file, makeParent: true } };
    case 'inspect_folder':
      return { ok: true, step: { kind: 'argv', argv: inspectFolderArgv(self.pgdata) } };
    case 'clone': {
      for (const name of [request.source, request.upstream]) {
        if (other(name) === null) return { ok: false, problem: `clone: no server ${name} in the agent's configuration` };
        if (name === self.name) return { ok: false, problem: 'clone: a node cannot be copied from nor stream from itself' };
      }
      return { ok: true, step: { kind: 'clone', node: self.name, source: request.source, upstream: request.upstream, oldData: request.old_data, restoreCommand: request.restore_command } };
    }
    case 'rewind': {
      const source = other(request.source);
      if (source === null) return { ok: false, problem: `rewind: no server ${request.source} in the agent's configuration` };
      if (source.name === self.name) return { ok: false, problem: 'rewind: a node cannot be rewound onto itself' };
      return { ok: true, step: { kind: 'rewind', self, source } };
    }
  }
}

/** Which expectation of the controller (command-table.ts expectSchema) this agent's configuration contradicts, or null. */
export function configurationDiffers(request: CommandRequest, self: ResolvedServer, target: ResolvedServer | null): string | null {
  const expect = request.expect;
  if (expect === undefined) return null;
  const mine: Record<keyof NonNullable<CommandRequest['expect']>, string | number | undefined> = {
    pgdata: self.pgdata,
    pg_ctl_dir: self.pgconf ?? self.pgdata,
    host: target?.hostname,
    port: target?.port,
  };
  for (const [key, value] of Object.entries(expect) as [keyof typeof mine, string | number][]) {
    const isPath = key === 'pgdata' || key === 'pg_ctl_dir';
    if (isPath ? !samePathSpelling(mine[key], value) : mine[key] !== value) return `the controller expects ${key} ${JSON.stringify(value)}, this agent has ${JSON.stringify(mine[key] ?? null)}`;
  }
  return null;
}

/**
 * Two spellings of one folder: equal after collapsing repeated slashes, "/./" and a trailing slash
 * ("/srv/pg/15/main/" is "/srv/pg/15/main"). Not ".." nor symbolic links: those may name another
 * folder, and a clone into the wrong one is what the expectation refuses.
 */
export function samePathSpelling(a: string | number | undefined, b: string | number): boolean {
  if (typeof a !== 'string' || typeof b !== 'string') return a === b;
  const spelled = (p: string): string => {
    const collapsed = p.replace(/\/+/g, '/').replace(/\/(?:\.\/)+/g, '/').replace(/\/\.$/, '/');
    return collapsed.length > 1 ? collapsed.replace(/\/$/, '') : collapsed;
  };
  return spelled(a) === spelled(b);
}
