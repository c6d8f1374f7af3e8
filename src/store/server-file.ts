/**
 * servers.save: the saved state as JSON, written atomically (temp file in the same folder, fsync,
 * rename, fsync of the folder) so a crash leaves either the old or the new file, never half of one.
 */
import { open, readFile, rename, unlink } from 'node:fs/promises';
import { dirname, basename, join } from 'node:path';
import { HandyRepError } from '../model/errors.js';
import { isSavedState, type SavedState } from './saved-state.js';

export type ServerFileRead = { kind: 'missing' } | { kind: 'invalid'; reason: string } | { kind: 'ok'; state: SavedState };

export async function readServerFile(path: string): Promise<ServerFileRead> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'missing' };
    return { kind: 'invalid', reason: `cannot read ${path}: ${(err as Error).message}` };
  }
  try {
    const parsed: unknown = JSON.parse(text);
    if (!isSavedState(parsed)) return { kind: 'invalid', reason: `${path} is not a HandyRep state file` };
    return { kind: 'ok', state: parsed };
  } catch (err) {
    return { kind: 'invalid', reason: `${path} is not valid JSON: ${(err as Error).message}` };
  }
}

export async function writeServerFile(path: string, state: SavedState): Promise<void> {
  await writeJsonAtomically(path, state);
}

/** Write JSON to `path` atomically: temp file, fsync, rename, fsync of the folder. */
export async function writeJsonAtomically(path: string, value: unknown): Promise<void> {
  const dir = dirname(path);
  const temp = join(dir, `.${basename(path)}.${process.pid}.tmp`);
  try {
    const handle = await open(temp, 'w', 0o600);
    try {
      await handle.writeFile(`${JSON.stringify(value, null, 2)}\n`, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, path);
    const dirHandle = await open(dir, 'r');
    try {
      await dirHandle.sync();
    } finally {
      await dirHandle.close();
    }
  } catch (err) {
    await unlink(temp).catch(() => undefined);
    throw new HandyRepError('STATE_FILE', `cannot write ${path}: ${(err as Error).message}`, { cause: err });
  }
}
