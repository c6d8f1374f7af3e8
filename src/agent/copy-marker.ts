/**
 * The mark of a copy under way (issue 14, gap "a partial copy left by a killed agent"): a file
 * beside the data folder, `.handyrep-agent-<node>.copying`, written BEFORE the agent's copy
 * (boot-clone.ts, for the boot and for the controller's `clone` command) touches the data folder
 * and removed only once the copy ended, was checked and configured — or was removed again. An
 * agent SIGKILLed mid-copy leaves it behind, so its next start knows the folder is a half-filled
 * copy, not data: it never starts PostgreSQL on it (boot.ts, the `pg_ctl start` command) and copies
 * again, keeping what the first attempt kept (the old data moved aside, the node's configuration
 * files saved outside the folder).
 *
 * Outside the folder on purpose: the copy empties or replaces the folder, and pg_basebackup fills
 * it in an order of its own. The file names where the attempt kept things, so that the next attempt
 * neither empties data the operator asked to keep nor loses the node's configuration files.
 * Pure decisions (partialCopyVerdict, copyLooksComplete) and the small file effects beside them.
 */
import { existsSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/**
 * `prepared`: written before the folder was touched; `copying`: the old folder is moved aside or
 * being emptied, what is in the data folder now is the copy's; `configuring`: the copy is whole and
 * the node's configuration files are back in it (their saved copy is gone), the standby settings
 * are being written.
 */
export type CopyPhase = 'prepared' | 'copying' | 'configuring';

export interface CopyMarker {
  readonly node: string;
  readonly pgdata: string;
  readonly phase: CopyPhase;
  readonly started_at: string;
  readonly source: string;
  /** What the attempt does with data found in the folder: moved aside, emptied, or there was none. */
  readonly old_data: 'move' | 'delete' | 'none';
  /** Where the old data folder goes (old_data move), known before the rename. */
  readonly kept_at: string | null;
  /** Where the node's configuration files were saved (outside the folder), or null: there were none. */
  readonly config_saved_at: string | null;
}

export function copyMarkerFile(pgdata: string, node: string): string {
  return join(dirname(pgdata), `.handyrep-agent-${node}.copying`);
}

/** What the next attempt does about a marker found (pure: the file's text and what exists on disk). */
export type PartialCopyVerdict =
  | { readonly kind: 'none' }
  /** The folder holds a partial copy: empty it and copy again (kept data and saved files stay as they are). */
  | { readonly kind: 'redo'; readonly marker: CopyMarker; readonly sentence: string }
  /** The attempt never touched the folder (killed before its rename): the marker is dropped, the folder is what it was. */
  | { readonly kind: 'forget'; readonly sentence: string }
  /** Cannot be redone safely: nothing is started nor copied until an operator looks. */
  | { readonly kind: 'blocked'; readonly sentence: string };

export interface MarkerFacts {
  /** The marker's text, or null when there is no marker. */
  readonly text: string | null;
  readonly file: string;
  readonly node: string;
  readonly pgdata: string;
  readonly exists: (path: string) => boolean;
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
const stringOrNull = (value: unknown): value is string | null => value === null || typeof value === 'string';

/** The marker's text parsed, or why it is not one. */
export function parseCopyMarker(text: string): CopyMarker | string {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return 'not JSON';
  }
  if (!isObject(value)) return 'not an object';
  const { node, pgdata, phase, started_at, source, old_data, kept_at, config_saved_at } = value;
  if (typeof node !== 'string' || typeof pgdata !== 'string' || typeof started_at !== 'string' || typeof source !== 'string') return 'node, pgdata, started_at or source missing';
  if (phase !== 'prepared' && phase !== 'copying' && phase !== 'configuring') return `phase ${JSON.stringify(phase)} unknown`;
  if (old_data !== 'move' && old_data !== 'delete' && old_data !== 'none') return `old_data ${JSON.stringify(old_data)} unknown`;
  if (!stringOrNull(kept_at) || !stringOrNull(config_saved_at)) return 'kept_at or config_saved_at not a path';
  return { node, pgdata, phase, started_at, source, old_data, kept_at, config_saved_at };
}

export function partialCopyVerdict(f: MarkerFacts): PartialCopyVerdict {
  if (f.text === null) return { kind: 'none' };
  const ask = `; look at it, then remove ${f.file} to let the agent go on`;
  const marker = parseCopyMarker(f.text);
  if (typeof marker === 'string') return { kind: 'blocked', sentence: `the copy marker ${f.file} is unreadable (${marker}): the data folder may hold a partial copy, PostgreSQL not started${ask}` };
  if (marker.node !== f.node || marker.pgdata !== f.pgdata) {
    return { kind: 'blocked', sentence: `the copy marker ${f.file} is for ${marker.node} at ${marker.pgdata}, not ${f.node} at ${f.pgdata}: PostgreSQL not started${ask}` };
  }
  const since = `a copy from ${marker.source} started ${marker.started_at} did not end (the agent was killed)`;
  // A rename is atomic: before it the folder still holds the data the operator asked to keep.
  if (marker.old_data === 'move' && marker.phase === 'prepared' && (marker.kept_at === null || !f.exists(marker.kept_at))) {
    return { kind: 'forget', sentence: `${since} before its old data folder was moved aside: the folder is as it was` };
  }
  if (marker.old_data === 'move' && (marker.kept_at === null || !f.exists(marker.kept_at))) {
    return { kind: 'blocked', sentence: `${since}, and its old data folder ${marker.kept_at ?? '(unknown)'} is gone: PostgreSQL not started${ask}` };
  }
  // In `configuring` the files are in the folder again: the next attempt saves them from there.
  if (marker.phase !== 'configuring' && marker.config_saved_at !== null && !f.exists(marker.config_saved_at)) {
    return { kind: 'blocked', sentence: `${since}, and the node's configuration files saved at ${marker.config_saved_at} are gone (host restarted?): put them into ${f.pgdata}${ask}` };
  }
  const kept = marker.kept_at !== null ? `; the old data stays at ${marker.kept_at}` : '';
  return { kind: 'redo', marker, sentence: `${since}: ${f.pgdata} holds a partial copy, never started; copying again${kept}` };
}

/**
 * Whether a finished copy looks whole before its marker goes: what pg_basebackup writes last (pg_control
 * last of the data files, then backup_manifest, PostgreSQL 13 and later, unless --no-manifest) and the
 * standby signal. A cheap check of the ending, for every clone method; clone_basebackup has verified
every file against the manifest before (plugins/clone/verify-copy.ts). Pure.
 */
export function copyLooksComplete(entries: readonly string[], globalEntries: readonly string[], manifestExpected: boolean): string | null {
  const missing: string[] = [];
  if (!entries.includes('PG_VERSION')) missing.push('PG_VERSION');
  if (!globalEntries.includes('pg_control')) missing.push('global/pg_control');
  if (!entries.includes('standby.signal')) missing.push('standby.signal');
  if (manifestExpected && !entries.includes('backup_manifest')) missing.push('backup_manifest');
  return missing.length === 0 ? null : `the copy lacks ${missing.join(', ')}`;
}

/** The marker's verdict for this node, read from disk. */
export function readPartialCopy(pgdata: string, node: string): PartialCopyVerdict {
  const file = copyMarkerFile(pgdata, node);
  let text: string | null;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'none' };
    return { kind: 'blocked', sentence: `the copy marker ${file} cannot be read (${(err as Error).message}): PostgreSQL not started` };
  }
  return partialCopyVerdict({ text, file, node, pgdata, exists: existsSync });
}

/** Written whole (a temporary file renamed over it): a reader never sees half a marker. Throws with the path. */
export function writeCopyMarker(marker: CopyMarker): void {
  const file = copyMarkerFile(marker.pgdata, marker.node);
  const temporary = `${file}.tmp`;
  try {
    writeFileSync(temporary, `${JSON.stringify(marker)}\n`, { mode: 0o600 });
    renameSync(temporary, file);
  } catch (err) {
    rmSync(temporary, { force: true });
    throw new Error(`cannot write the copy marker ${file} (the data folder's parent must be writable by the agent): ${(err as Error).message}`);
  }
}

export function removeCopyMarker(pgdata: string, node: string): void {
  rmSync(copyMarkerFile(pgdata, node), { force: true });
}

/**
 * The checked copy in `pgdata` (copyLooksComplete over the folder as it is); `basebackup`: copied by
 * pg_basebackup with its manifest (clone_basebackup without --no-manifest), expected from PostgreSQL 13.
 */
export function checkCopy(pgdata: string, basebackup: boolean): string | null {
  const list = (path: string): string[] => {
    try {
      return readdirSync(path);
    } catch {
      return [];
    }
  };
  let major = Number.NaN;
  try {
    major = Number.parseInt(readFileSync(join(pgdata, 'PG_VERSION'), 'utf8'), 10);
  } catch {
    // no PG_VERSION: reported as missing below
  }
  const problem = copyLooksComplete(list(pgdata), list(join(pgdata, 'global')), basebackup && major >= 13);
  return problem === null ? null : `${problem} (${pgdata})`;
}
