/**
 * SqlClient on node-postgres. Every wait is bounded: the connect by our own timer as well as pg's
 * (pg's does not always cover a stalled startup), each query by the server's statement_timeout
 * and, should the server be frozen and never answer, by a client-side timer after it.
 */
import { Socket } from 'node:net';
import pg from 'pg';
import { HandyRepError } from '../model/errors.js';
import type { SqlClient, SqlRow, SqlSession, SqlTarget, SqlValue } from './ports.js';
import { classifyConnectError, describeDriverError, queryError, SqlConnectError } from './sql-errors.js';

/** Re-exported: callers of the client catch this to read the failure kind. */
export { SqlConnectError } from './sql-errors.js';

/** Extra wait past statement_timeout before the client gives up on a silent server. */
const QUERY_GRACE_MIN_MS = 1000;
/** How long `end()` waits for a polite goodbye before cutting the socket. */
const END_TIMEOUT_MS = 1000;
const KEEPALIVE_INITIAL_DELAY_MS = 10_000;

/** `postgresql user@host:port/db` (never the password), used in every message. */
export function sqlTargetDescription(target: SqlTarget): string {
  return `postgresql ${target.user}@${target.host}:${target.port}/${target.database}`;
}

/** Opens short-lived node-postgres sessions. */
export class PgSqlClient implements SqlClient {
  /** Connects; rejects with `SqlConnectError` carrying the failure kind. */
  connect(target: SqlTarget): Promise<SqlSession> {
    const where = sqlTargetDescription(target);
    // We create the socket so that our timer can destroy it whatever phase pg is in.
    const socket = new Socket();
    const client = new pg.Client({
      host: target.host,
      port: target.port,
      database: target.database,
      user: target.user,
      password: target.password,
      connectionTimeoutMillis: target.connectTimeoutMs,
      statement_timeout: target.statementTimeoutMs,
      application_name: target.applicationName ?? 'handyrep',
      keepAlive: true,
      keepAliveInitialDelayMillis: KEEPALIVE_INITIAL_DELAY_MS,
      stream: () => socket,
    });
    const session = new PgSession(client, socket, target, where);

    return new Promise<SqlSession>((resolve, reject) => {
      let settled = false;
      const timer = setTimeout(() => {
        if (settled) return;
        settled = true;
        socket.destroy();
        reject(new SqlConnectError('timeout', `${where}: connect timed out after ${target.connectTimeoutMs} ms`));
      }, target.connectTimeoutMs);
      client.connect().then(
        () => {
          clearTimeout(timer);
          if (settled) {
            void session.end();
            return;
          }
          settled = true;
          resolve(session);
        },
        (err: unknown) => {
          clearTimeout(timer);
          if (settled) return;
          settled = true;
          socket.destroy();
          const kind = classifyConnectError(err);
          reject(new SqlConnectError(kind, `${where}: connect failed (${kind}): ${describeDriverError(err, target.password)}`));
        },
      );
    });
  }
}

/** One connection; queries run one after another as pg queues them. */
class PgSession implements SqlSession {
  private ending: Promise<void> | undefined;
  private lostReason: string | undefined;

  constructor(
    private readonly client: pg.Client,
    private readonly socket: Socket,
    private readonly target: SqlTarget,
    private readonly where: string,
  ) {
    // Without a listener an 'error' event (server restarted, network cut) would crash the process.
    client.on('error', (err: Error) => {
      this.lostReason = describeDriverError(err, target.password);
    });
    // 'end' follows every close; one we did not ask for is a lost connection.
    client.on('end', () => {
      if (this.ending) return;
      this.lostReason ??= 'connection closed by the server';
      const listeners = this.lostListeners.splice(0);
      for (const listener of listeners) listener(this.lostReason);
    });
  }

  private readonly lostListeners: ((reason: string) => void)[] = [];

  onLost(listener: (reason: string) => void): void {
    this.lostListeners.push(listener);
  }

  async query<Row extends SqlRow = SqlRow>(text: string, params?: readonly SqlValue[]): Promise<Row[]> {
    if (this.ending) throw new HandyRepError('SQL', `${this.where}: the session has ended`);
    if (this.lostReason !== undefined) {
      throw new HandyRepError('SQL', `${this.where}: connection lost: ${this.lostReason}`);
    }
    const limitMs = this.target.statementTimeoutMs + Math.max(this.target.connectTimeoutMs, QUERY_GRACE_MIN_MS);
    let timer: NodeJS.Timeout | undefined;
    const silentServer = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        // The session is unusable after this: pg cannot resynchronise a half-answered query.
        this.lostReason = `no answer within ${limitMs} ms`;
        this.socket.destroy();
        reject(new HandyRepError('SQL', `${this.where}: query got no answer within ${limitMs} ms; connection closed`));
      }, limitMs);
    });
    try {
      const result = await Promise.race([
        this.client.query<Row>(text, params === undefined ? undefined : [...params]),
        silentServer,
      ]);
      return result.rows;
    } catch (err) {
      if (err instanceof HandyRepError) throw err;
      throw queryError(this.where, err, this.target.password);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Closes the connection; idempotent, and bounded even when the server does not answer. */
  end(): Promise<void> {
    if (!this.ending) {
      this.ending = (async () => {
        const cut = setTimeout(() => this.socket.destroy(), END_TIMEOUT_MS);
        try {
          await this.client.end();
        } catch {
          // Already closed or broken: either way it is gone.
        } finally {
          clearTimeout(cut);
        }
      })();
    }
    return this.ending;
  }
}

