/**
 * Which saved state to start from (reference §5.5, fixed): `override_server_file` forces the
 * configuration file; otherwise the newest usable copy among servers.save and the handyrep table
 * of every server that answered wins (by version, then by writer clock; on a tie the file, then
 * the servers in the order asked). Which copy answered first does not matter. A copy whose records
 * cannot be used (saved-servers.ts) is skipped with a note, for the next newest; with no usable
 * copy, the configuration file.
 */
import type { ServerSettings } from '../config/schema.js';
import type { ServerMap } from '../model/server.js';
import type { SavedState } from '../store/saved-state.js';
import { validateSavedServers } from './saved-servers.js';

/** One saved copy: servers.save, or the handyrep table as read on one server. */
export interface StateCandidate {
  from: 'file' | 'table' | 'store';
  /** The file's path or the server whose table it is. */
  where: string;
  state: SavedState;
}

export type StateSource = { from: 'config'; reason: string } | { from: 'file' | 'table' | 'store'; where: string; state: SavedState; reason: string };

export interface StateChoice {
  source: StateSource;
  /** The chosen copy's valid records (completed from the defaults); null for the configuration file. */
  servers: ServerMap | null;
  /** Rejected records and skipped copies, one line each, for the log. */
  notes: string[];
}

/** Newest first: version, then updated_ms; ties keep the given order (the file first). */
export function newestFirst(candidates: readonly StateCandidate[]): StateCandidate[] {
  return candidates
    .map((candidate, index) => ({ candidate, index }))
    .sort(
      (a, b) =>
        b.candidate.state.version - a.candidate.state.version ||
        b.candidate.state.updated_ms - a.candidate.state.updated_ms ||
        a.index - b.index,
    )
    .map(({ candidate }) => candidate);
}

export function describeCandidate(candidate: StateCandidate): string {
  const what = candidate.from === 'file' ? `server file ${candidate.where}` : candidate.from === 'store' ? `etcd store ${candidate.where}` : `handyrep table on ${candidate.where}`;
  return `${what} (version ${candidate.state.version})`;
}

export function chooseStateSource(
  override: boolean,
  candidates: readonly StateCandidate[],
  defaults: Readonly<ServerSettings>,
  now: string,
): StateChoice {
  if (override) return { source: { from: 'config', reason: 'override_server_file is set' }, servers: null, notes: [] };
  const ranked = newestFirst(candidates);
  const notes: string[] = [];
  for (const [rank, candidate] of ranked.entries()) {
    const checked = validateSavedServers(candidate.state.servers, defaults, now);
    const name = describeCandidate(candidate);
    if (checked.unusable !== null) {
      notes.push(`ignoring the saved state in the ${name}: ${checked.unusable}`);
      continue;
    }
    for (const { name: server, reason } of checked.rejected) {
      notes.push(`ignoring saved server record ${server} from the ${name}: ${reason}`);
    }
    const others = ranked.filter((c) => c !== candidate).map(describeCandidate);
    const reason =
      rank === 0 && others.length === 0
        ? `the only saved copy: ${name}`
        : rank === 0
          ? `${name} is the newest; also found: ${others.join(', ')}`
          : `${name} is the newest usable copy; also found: ${others.join(', ')}`;
    return { source: { from: candidate.from, where: candidate.where, state: candidate.state, reason }, servers: checked.servers, notes };
  }
  const reason = ranked.length === 0 ? 'no saved state yet' : 'no usable saved state: falling back to the configuration file';
  return { source: { from: 'config', reason }, servers: null, notes };
}
