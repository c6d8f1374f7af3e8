/**
 * archive_local_dir: an archive script that copies each finished WAL file (`%p`) into
 * archive.archive_directory as `%f`, a folder reachable at the same path from the master (local
 * disk of a dedicated mount, NFS, ...). The script is rendered from a template with the folder and
 * the no-archiving flag file, and pushed to the node over stdin. It exits 0 without copying while
 * the flag file exists (stop_archiving), refuses to overwrite a different file of the same name,
 * and copies through a temporary name so a half-copied file is never taken for a WAL segment.
 * Before exit 0 the copy is fsynced (`sync FILE`, coreutils 8.24+) and, after the rename, its
 * folder too: a crash right after PostgreSQL recycled the segment must not lose the archived copy.
 *
 * The node's archive_command must call it: `archive_command = '<archive_script_path> %p %f'`
 * (HandyRep does not edit postgresql.conf; poll_archiving warns when archive_mode is off).
 */
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { describeError } from '../../model/errors.js';
import { quoteArg } from '../../nodes/shell-quote.js';
import { pluginSettings } from '../settings.js';
import { atomicWriteArgv } from '../node-file.js';
import type { ArchivePlugin, ControlOutcome, PluginContext, ServerRef } from '../types.js';

export const DEFAULT_ARCHIVE_TEMPLATE = `#!/bin/sh
# HandyRep WAL archive script (archive_local_dir), pushed by HandyRep: edit the template, not this file.
# archive_command = '<this script> %p %f'
NO_ARCHIVE_FILE={{no_archive_file}}
ARCHIVE_DIR={{archive_directory}}
[ -e "$NO_ARCHIVE_FILE" ] && exit 0
src=$1
name=$2
if [ -z "$src" ] || [ -z "$name" ]; then echo "usage: $0 %p %f" >&2; exit 2; fi
dest="$ARCHIVE_DIR/$name"
# exit 0 tells PostgreSQL it may recycle the segment: only once the copy and its name are on disk.
if [ -f "$dest" ]; then
  if cmp -s "$src" "$dest"; then sync "$dest" && sync "$ARCHIVE_DIR" && exit 0; exit 1; fi
  echo "archive: $dest already exists with different content" >&2
  exit 1
fi
tmp="$ARCHIVE_DIR/.$name.tmp.$$"
if cp "$src" "$tmp" && sync "$tmp" && mv "$tmp" "$dest" && sync "$ARCHIVE_DIR"; then exit 0; fi
rm -f "$tmp"
exit 1
`;

/** Exported for the agent, which validates the same section of its own configuration (src/agent/commands/). */
export const settingsSchema = z
  .object({
    /** A template file on the controller (absolute path) instead of the built-in one. */
    template: z.string().regex(/^\/[A-Za-z0-9_./-]+$/).nullable().default(null),
  })
  .strict();

/** Replace `{{key}}` with the shell-quoted value; an unknown key is an error. */
export function renderTemplate(template: string, values: Readonly<Record<string, string>>): string {
  return template.replace(/\{\{\s*([a-z_]+)\s*\}\}/g, (_, key: string) => {
    const value = values[key];
    if (value === undefined) throw new Error(`archive template: unknown placeholder {{${key}}}`);
    return quoteArg(value);
  });
}

function archiveDirectory(ctx: PluginContext): string {
  const dir = ctx.config.archive.archive_directory;
  if (dir === null) throw new Error('archive.archive_directory is not set');
  return dir;
}

async function run(ctx: PluginContext, server: ServerRef, argv: string[], what: string, stdin?: string): Promise<ControlOutcome> {
  try {
    const result = await ctx.shellFor(server).run(argv, stdin === undefined ? { timeoutMs: ctx.timeouts.commandMs } : { timeoutMs: ctx.timeouts.commandMs, stdin });
    if (result.exitCode === 0 && !result.timedOut) return { ok: true, details: `${what} on ${server.name}` };
    return { ok: false, details: `${what} on ${server.name} failed: ${result.timedOut ? 'timed out' : `exit ${String(result.exitCode)}`} ${(result.stderr || result.stdout).trim()}`.trim() };
  } catch (err) {
    return { ok: false, details: `${what} on ${server.name} failed: ${describeError(err)}` };
  }
}

export const archiveLocalDir: ArchivePlugin = {
  name: 'archive_local_dir',
  kind: 'archive',
  description: 'Archive script copying WAL into archive_directory (local or shared storage), honouring the no-archiving flag file.',
  async pushScript(ctx, server) {
    const settings = pluginSettings(ctx, 'archive_local_dir', settingsSchema);
    const archive = ctx.config.archive;
    let script: string;
    try {
      const template = settings.template === null ? DEFAULT_ARCHIVE_TEMPLATE : await readFile(settings.template, 'utf8');
      script = renderTemplate(template, { archive_directory: archiveDirectory(ctx), no_archive_file: archive.no_archive_file });
    } catch (err) {
      return { ok: false, details: `cannot render the archive script: ${describeError(err)}` };
    }
    const dir = await run(ctx, server, ['mkdir', '-p', '-m', '700', archiveDirectory(ctx)], `archive folder ${archiveDirectory(ctx)} made`);
    if (!dir.ok) return dir;
    return run(
      ctx,
      server,
      atomicWriteArgv(archive.archive_script_path, { umask: '077', mode: '700' }, 'push_archive_script'),
      `archive script pushed to ${archive.archive_script_path}`,
      script,
    );
  },
  async start(ctx, server) {
    return run(ctx, server, ['rm', '-f', ctx.config.archive.no_archive_file], `no-archiving flag ${ctx.config.archive.no_archive_file} removed`);
  },
  async stop(ctx, server) {
    const flag = ctx.config.archive.no_archive_file;
    return run(ctx, server, ['sh', '-c', 'mkdir -p "$(dirname "$1")" && touch "$1"', 'stop_archiving', flag], `no-archiving flag ${flag} created`);
  },
  restoreCommand(ctx) {
    return `cp ${archiveDirectory(ctx)}/%f %p`;
  },
};
