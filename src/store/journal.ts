/**
 * The failover journal: the in-flight topology change, rewritten atomically (same mechanism as
 * servers.save) before and after every step, so a controller killed mid-failover finds on restart
 * exactly which step was running. Deleted when the change ends.
 */
import { readFile, unlink } from 'node:fs/promises';
import type { FailoverRecord } from '../model/failover-record.js';
import { HandyRepError } from '../model/errors.js';
import { writeJsonAtomically } from './server-file.js';

export function journalPath(serverFile: string): string {
  return `${serverFile}.journal`;
}

export async function writeJournal(serverFile: string, record: FailoverRecord): Promise<void> {
  await writeJsonAtomically(journalPath(serverFile), record);
}

export async function readJournal(serverFile: string): Promise<FailoverRecord | null> {
  let text: string;
  try {
    text = await readFile(journalPath(serverFile), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new HandyRepError('STATE_FILE', `cannot read the failover journal: ${(err as Error).message}`);
  }
  try {
    const parsed = JSON.parse(text) as FailoverRecord;
    return typeof parsed === 'object' && parsed !== null && Array.isArray(parsed.steps) ? parsed : null;
  } catch {
    return null;
  }
}

export async function clearJournal(serverFile: string): Promise<void> {
  await unlink(journalPath(serverFile)).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOENT') throw err;
  });
}
