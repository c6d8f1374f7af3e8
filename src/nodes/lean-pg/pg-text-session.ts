/**
 * The same session as LeanPgSession (simple queries, text values), on node-postgres: for a local
 * socket whose pg_hba.conf asks for a password, which the lean session does not look up but
 * node-postgres does (PGPASSWORD, ~/.pgpass), as the agent's facts session always did before the
 * lean one. It costs an idle agent more CPU per round; peer or trust on the socket is the
 * recommended setup (docs/node-agent.md).
 */
import pg from 'pg';
import { LeanPgError, type LeanPgResult } from './session.js';

/** Every type as PostgreSQL's text: the readers (text-values.ts) are the lean session's. */
const TEXT_TYPES = { getTypeParser: () => (value: string) => value };

/** node-postgres' failure → the lean session's kinds (what the callers tell apart). */
function asLeanError(err: unknown): LeanPgError {
  if (err instanceof LeanPgError) return err;
  const e = err as { code?: unknown; message?: unknown };
  const code = typeof e?.code === 'string' ? e.code : '';
  const message = typeof e?.message === 'string' ? e.message : String(err);
  if (/^[0-9A-Z]{5}$/.test(code)) return new LeanPgError('server', message, code);
  if (code !== '') return new LeanPgError('network', message, code);
  if (/timeout/i.test(message)) return new LeanPgError('timeout', message);
  if (/terminated|ended/i.test(message)) return new LeanPgError('closed', message);
  return new LeanPgError('protocol', message);
}

export interface PgTextTarget {
  readonly socketDir: string;
  readonly port: number;
  readonly user: string;
  readonly database: string;
  readonly applicationName: string;
  readonly connectTimeoutMs: number;
}

export class PgTextSession {
  #ended = false;
  #listeners: (() => void)[] = [];

  private constructor(private readonly client: pg.Client) {
    const lost = (): void => {
      if (this.#ended) return;
      this.#ended = true;
      const listeners = this.#listeners;
      this.#listeners = [];
      for (const listener of listeners) listener();
    };
    client.on('error', lost);
    client.on('end', lost);
  }

  static async connect(target: PgTextTarget): Promise<PgTextSession> {
    const client = new pg.Client({ host: target.socketDir, port: target.port, user: target.user, database: target.database, application_name: target.applicationName, connectionTimeoutMillis: target.connectTimeoutMs, types: TEXT_TYPES });
    client.on('error', () => undefined); // until the session listens
    try {
      await client.connect();
    } catch (err) {
      void client.end().catch(() => undefined);
      throw asLeanError(err);
    }
    return new PgTextSession(client);
  }

  get ended(): boolean {
    return this.#ended;
  }

  onLost(listener: () => void): void {
    this.#listeners.push(listener);
  }

  async query(sql: string, timeoutMs: number): Promise<LeanPgResult> {
    if (this.#ended) throw new LeanPgError('closed', 'the session has ended');
    try {
      // node-postgres reads query_timeout from a query's config too (client.js); its types omit it.
      const config: pg.QueryArrayConfig & { query_timeout: number } = { text: sql, rowMode: 'array', query_timeout: timeoutMs };
      const result = await this.client.query<unknown[]>(config);
      return { columns: result.fields.map((f) => f.name), rows: result.rows.map((row) => row.map((v) => (v === null ? null : String(v)))) };
    } catch (err) {
      throw asLeanError(err);
    }
  }

  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#listeners = [];
    void this.client.end().catch(() => undefined);
  }
}
