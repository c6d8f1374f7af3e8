/**
 * archive_delete_find: lists the archive folder with find(1) and deletes the files the engine
 * chose, over the control channel of the server holding the archive (archive.archive_host, else
 * the master). The name is the original's; unlike it, this plugin decides nothing: which files
 * may go is src/engine/archive-cleanup.ts's decision (never a WAL file a replica or the latest
 * base backup still needs).
 */
import type { ArchiveFile } from '../../engine/archive-cleanup.js';
import type { ArchiveDeletePlugin } from '../types.js';

/** A plain file name: nothing a path or an option could hide in. */
export const SAFE_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;
/** Files per rm (also the most an agent's archive_delete command takes). */
export const BATCH = 500;

/** Parse `find -printf '%f\t%T@\t%s\n'` output (exported for unit tests). */
export function parseFindListing(stdout: string): ArchiveFile[] {
  const files: ArchiveFile[] = [];
  for (const line of stdout.split('\n')) {
    if (line === '') continue;
    const [name, mtime, size] = line.split('\t');
    if (name === undefined || mtime === undefined || size === undefined) continue;
    const mtimeMs = Math.round(Number(mtime) * 1000);
    if (!Number.isFinite(mtimeMs)) continue;
    files.push({ name, mtimeMs, sizeBytes: Number(size) });
  }
  return files;
}

/** The listing's argv (also rebuilt by an agent from its own archive_directory: command-plan.ts). */
export function listArchiveArgv(directory: string): string[] {
  return ['find', directory, '-mindepth', '1', '-maxdepth', '1', '-type', 'f', '-printf', '%f\\t%T@\\t%s\\n'];
}

/** One rm of archived files by name (names checked against SAFE_NAME by the caller). */
export function deleteArchiveArgv(directory: string, names: readonly string[]): string[] {
  return ['rm', '-f', '--', ...names.map((n) => `${directory}/${n}`)];
}

export const archiveDeleteFind: ArchiveDeletePlugin = {
  name: 'archive_delete_find',
  kind: 'archive_delete',
  description: 'Lists the archive folder with find and deletes the WAL files the cleanup decision chose.',
  async listFiles(ctx, location) {
    const argv = listArchiveArgv(location.directory);
    const result = await ctx.shellFor(location.server).run(argv, { timeoutMs: Math.max(ctx.timeouts.commandMs, 120000) });
    if (result.exitCode !== 0 || result.timedOut) {
      throw new Error(`cannot list ${location.directory} on ${location.server.name}: ${result.timedOut ? 'timed out' : `exit ${String(result.exitCode)}`} ${result.stderr.trim()}`);
    }
    // A result cut to its tail (an agent's, command-record.ts) would hide files: never plan from one.
    if (result.stdout.startsWith('[… ')) throw new Error(`cannot list ${location.directory} on ${location.server.name}: the listing came back cut`);
    return parseFindListing(result.stdout);
  },
  async deleteFiles(ctx, location, names) {
    const bad = names.find((n) => !SAFE_NAME.test(n));
    if (bad !== undefined) return { ok: false, details: `refusing to delete a file with an unexpected name: ${JSON.stringify(bad)}` };
    let deleted = 0;
    for (let i = 0; i < names.length; i += BATCH) {
      const batch = names.slice(i, i + BATCH);
      const result = await ctx.shellFor(location.server).run(deleteArchiveArgv(location.directory, batch), { timeoutMs: Math.max(ctx.timeouts.commandMs, 120000) });
      if (result.exitCode !== 0 || result.timedOut) {
        return { ok: false, details: `deleted ${deleted} of ${names.length} file(s), then rm failed on ${location.server.name}: ${result.stderr.trim() || `exit ${String(result.exitCode)}`}` };
      }
      deleted += batch.length;
    }
    return { ok: true, details: `deleted ${deleted} file(s) from ${location.directory} on ${location.server.name}` };
  },
};
