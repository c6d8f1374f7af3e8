/**
 * This controller's identity, kept beside its state file (`<server_file>.controller`): an id and
 * the time it first started. It survives restarts, so a controller that crashed and came back is
 * the same controller — it keeps its seniority over a second controller and its old heartbeat is
 * recognised as its own — while another controller with a state file of its own (even at the
 * same path on another host or container) is a different one.
 */
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { HandyRepError } from '../model/errors.js';
import { writeJsonAtomically } from './server-file.js';

export interface ControllerIdentity {
  id: string;
  started_ms: number;
}

const ID_PATTERN = /^[0-9a-f-]{36}$/;

export function identityPath(serverFile: string): string {
  return `${serverFile}.controller`;
}

/** Reads the identity, creating it on first start. A malformed file is an error naming it. */
export async function loadControllerIdentity(serverFile: string, nowMs: number): Promise<ControllerIdentity> {
  const path = identityPath(serverFile);
  let text: string | null = null;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new HandyRepError('STATE_FILE', `cannot read ${path}: ${(err as Error).message}`);
  }
  if (text === null) {
    const identity = { id: randomUUID(), started_ms: nowMs };
    await writeJsonAtomically(path, identity);
    return identity;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = null;
  }
  const v = parsed as Partial<ControllerIdentity> | null;
  if (!v || typeof v.id !== 'string' || !ID_PATTERN.test(v.id) || typeof v.started_ms !== 'number' || !Number.isSafeInteger(v.started_ms) || v.started_ms <= 0) {
    throw new HandyRepError('STATE_FILE', `${path} is not a controller identity ({"id": uuid, "started_ms": integer}); remove it to start as a new controller`);
  }
  return { id: v.id, started_ms: v.started_ms };
}
