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

/**
 * The interrupted topology change, or null when there is none. A journal that exists but cannot
 * be read or understood stops start-up: ignoring it could start with half a failover done and
 * nobody knowing (an operator inspects it, then fixes or deletes it).
 */
export async function readJournal(serverFile: string): Promise<FailoverRecord | null> {
  const path = journalPath(serverFile);
  const refuse = (why: string): HandyRepError =>
    new HandyRepError('STATE_FILE', `the failover journal ${path} ${why}: an interrupted topology change may be recorded there; check it, then repair or delete it before starting again`);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw refuse(`cannot be read (${(err as Error).message})`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw refuse(`is not valid JSON (${(err as Error).message})`);
  }
  if (!isJournalRecord(parsed)) throw refuse('is not a failover record (id, kind and steps expected)');
  return parsed;
}

/** A loose structural check of a journal read back (also used by the etcd store). */
export function isJournalRecord(value: unknown): value is FailoverRecord {
  if (typeof value !== 'object' || value === null) return false;
  const record = value as Partial<Record<keyof FailoverRecord, unknown>>;
  return typeof record.id === 'string' && typeof record.kind === 'string' && Array.isArray(record.steps);
}

export async function clearJournal(serverFile: string): Promise<void> {
  await unlink(journalPath(serverFile)).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOENT') throw err;
  });
}
