/**
 * The `local` backend of the ClusterStore port: the existing files beside the configuration,
 * unchanged (servers.save, its `.journal`), plus `<server_file>.controller-history` for
 * leadership changes. No leadership guard: a local store has one writer (the state lock).
 */
import { readFile } from 'node:fs/promises';
import type { FailoverRecord } from '../model/failover-record.js';
import { HandyRepError } from '../model/errors.js';
import { CONTROLLER_HISTORY_LIMIT, isControllerHistoryEntry, type ClusterStore, type ControllerHistoryEntry, type StoredStateRead } from './cluster-store.js';
import { clearJournal, readJournal, writeJournal } from './journal.js';
import type { SavedState } from './saved-state.js';
import { readServerFile, writeJsonAtomically, writeServerFile } from './server-file.js';

export function controllerHistoryPath(serverFile: string): string {
  return `${serverFile}.controller-history`;
}

export class LocalClusterStore implements ClusterStore {
  readonly kind = 'local';

  constructor(private readonly serverFile: string) {}

  readState(): Promise<StoredStateRead> {
    return readServerFile(this.serverFile);
  }

  writeState(state: SavedState): Promise<void> {
    return writeServerFile(this.serverFile, state);
  }

  readJournal(): Promise<FailoverRecord | null> {
    return readJournal(this.serverFile);
  }

  writeJournal(record: FailoverRecord): Promise<void> {
    return writeJournal(this.serverFile, record);
  }

  clearJournal(): Promise<void> {
    return clearJournal(this.serverFile);
  }

  async recordControllerEvent(entry: ControllerHistoryEntry): Promise<void> {
    const entries = [...(await this.readControllerHistory()), entry].slice(-CONTROLLER_HISTORY_LIMIT);
    await writeJsonAtomically(controllerHistoryPath(this.serverFile), entries);
  }

  async readControllerHistory(): Promise<ControllerHistoryEntry[]> {
    const path = controllerHistoryPath(this.serverFile);
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw new HandyRepError('STATE_FILE', `cannot read ${path}: ${(err as Error).message}`);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = null;
    }
    if (!Array.isArray(parsed) || !parsed.every(isControllerHistoryEntry)) {
      throw new HandyRepError('STATE_FILE', `${path} is not a list of leadership changes; repair or delete it`);
    }
    return parsed;
  }
}
