/**
 * The agent's own vantage point on the recorded master (design §5 rule 1: the active probe
 * decides): one libpq session to the master as handyrep_user, kept open, and `SELECT 1` on it each
 * round under a short timeout; a broken session is reopened with the same timeout. The answer is
 * published in the member record (`sees_master`), where controllers count it as a vantage point.
 * Classification is pure (classifyProbeError); a server that answers at all (even "password
 * authentication failed" or "the database system is starting up") is seen.
 */
import pg from 'pg';
import { resolveServer } from '../config/merge.js';
import type { HandyRepConfig } from '../config/schema.js';

export interface ProbeAnswer {
  /** null: the probe could not run (a local failure): unknown, never "does not see" (design §5 rule 1). */
  readonly sees: boolean | null;
  /** A short stable category (the record is rewritten only when it changes). */
  readonly detail: string;
}

/** Errors of the network path to the master: only these are "does not see" (pg_isready's exit 2). */
const NO_ANSWER_CODES: ReadonlySet<string> = new Set(['ECONNREFUSED', 'ETIMEDOUT', 'EHOSTUNREACH', 'EHOSTDOWN', 'ECONNRESET', 'EPIPE']);

/**
 * A failed connect or query → seen, not seen, or unknown. Errors with an SQLSTATE came from the
 * server: it answers. Refused, unreachable and node-postgres' connect/query timeouts are "does not
 * see"; anything else (EMFILE, EAI_AGAIN, a TypeError: this host's own trouble) is unknown.
 */
export function classifyProbeError(err: unknown): ProbeAnswer {
  const e = err as { code?: unknown; message?: unknown };
  const code = typeof e?.code === 'string' ? e.code : '';
  if (/^[0-9A-Z]{5}$/.test(code)) return { sees: true, detail: `answers (SQLSTATE ${code})` };
  const message = typeof e?.message === 'string' ? e.message : String(err);
  if (code === 'ECONNREFUSED') return { sees: false, detail: 'connection refused' };
  if (NO_ANSWER_CODES.has(code)) return { sees: false, detail: `no answer (${code})` };
  if (code === '' && /^(Connection terminated due to connection timeout|Query read timeout|timeout expired)$/.test(message)) {
    return { sees: false, detail: 'no answer within the timeout' };
  }
  if (code === '' && message === 'Connection terminated unexpectedly') return { sees: false, detail: 'no answer (connection ended)' };
  return { sees: null, detail: `probe did not run (${code || (err instanceof Error ? err.name : 'error')})` };
}

export class MasterProbe {
  #client: pg.Client | null = null;
  #target: string | null = null;

  constructor(
    private readonly config: Readonly<HandyRepConfig>,
    private readonly timeoutMs: number,
  ) {}

  /** Probe the server `master` (a name under servers). */
  async probe(master: string): Promise<ProbeAnswer> {
    const entry = this.config.servers[master];
    if (!entry) return { sees: null, detail: 'not a configured server' };
    if (this.#target !== master) this.close();
    try {
      if (this.#client === null) {
        const server = resolveServer(this.config.server_defaults, entry);
        const client = new pg.Client({
          host: server.hostname,
          port: server.port,
          user: this.config.handyrep.handyrep_user,
          database: this.config.handyrep.handyrep_db,
          ...(this.config.passwords.handyrep_db_pass ? { password: this.config.passwords.handyrep_db_pass } : {}),
          application_name: 'handyrep-agent-probe',
          connectionTimeoutMillis: this.timeoutMs,
          query_timeout: this.timeoutMs,
        });
        // Only the current session: a late error of an old one must not abort the new one's connect.
        client.on('error', () => {
          if (this.#client === client) this.close();
        });
        this.#client = client;
        this.#target = master;
        await client.connect();
      }
      await this.#client.query('SELECT 1');
      return { sees: true, detail: 'answers SELECT 1' };
    } catch (err) {
      this.close();
      return classifyProbeError(err);
    }
  }

  close(): void {
    const client = this.#client;
    this.#client = null;
    this.#target = null;
    if (client) void client.end().catch(() => undefined);
  }
}
