/**
 * Which saved state to start from (reference §5.5, fixed): `override_server_file` forces the
 * configuration file; otherwise the newest of servers.save and the handyrep table wins (by
 * version, then by writer clock); with neither, the configuration file.
 */
import type { SavedState } from '../store/saved-state.js';

export type StateSource = { from: 'config'; reason: string } | { from: 'file' | 'table'; state: SavedState; reason: string };

export function chooseStateSource(override: boolean, file: SavedState | null, table: SavedState | null): StateSource {
  if (override) return { from: 'config', reason: 'override_server_file is set' };
  if (file && table) {
    const tableNewer = table.version > file.version || (table.version === file.version && table.updated_ms > file.updated_ms);
    return tableNewer
      ? { from: 'table', state: table, reason: `handyrep table (version ${table.version}) is newer than the server file (version ${file.version})` }
      : { from: 'file', state: file, reason: `server file (version ${file.version}) is as new or newer than the handyrep table (version ${table.version})` };
  }
  if (file) return { from: 'file', state: file, reason: 'server file found; handyrep table not readable' };
  if (table) return { from: 'table', state: table, reason: 'handyrep table found; no server file' };
  return { from: 'config', reason: 'no saved state yet' };
}
