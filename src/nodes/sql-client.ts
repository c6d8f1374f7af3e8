/**
 * SqlClient on node-postgres. Every wait is bounded: the connect by our own timer as well as pg's
 * (pg's does not always cover a stalled startup), each query by the server's statement_timeout
 * and, should the server be frozen and never answer, by a client-side timer after it.
 */
import { Socket } from 'node:net';
import pg from 'pg';
import { describeError, HandyRepError } from '../model/errors.js';
import { DEFAULT_TLS, isServerWithoutTls, PASSWORD_REQUEST_EVENTS, pgSslOption, type SqlTls } from './pg-tls.js';
import type { SqlClient, SqlRow, SqlSession, SqlTarget, SqlValue } from './ports.js';
import { classifyConnectError, DEFAULT_PASSWORD_METHODS, describeDriverError, PasswordMethodRefused, queryError, SqlConnectError } from './sql-errors.js';

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

/** How long a server that answered "no TLS" to sslmode prefer is asked in plain text directly. */
const NO_TLS_MEMORY_MS = 5 * 60_000;

/** Opens short-lived node-postgres sessions. */
export class PgSqlClient implements SqlClient {
  /** host:port → until when it is known not to offer TLS (sslmode prefer only). */
  private readonly withoutTls = new Map<string, number>();

  /** Connects; rejects with `SqlConnectError` carrying the failure kind. */
  async connect(target: SqlTarget): Promise<SqlSession> {
    const tls = target.tls ?? DEFAULT_TLS;
    const key = `${target.host}:${target.port}`;
    if (tls.mode !== 'prefer') return this.attempt(target, tls);
    if ((this.withoutTls.get(key) ?? 0) > Date.now()) return this.attempt(target, { ...tls, mode: 'disable' });
    try {
      return await this.attempt(target, tls);
    } catch (err) {
      // prefer: a server without TLS is asked again in plain text, as libpq does.
      if (!(err instanceof SqlConnectError) || !isServerWithoutTls(err.cause)) throw err;
      this.withoutTls.set(key, Date.now() + NO_TLS_MEMORY_MS);
      return this.attempt(target, { ...tls, mode: 'disable' });
    }
  }

  private attempt(target: SqlTarget, tls: SqlTls): Promise<SqlSession> {
    const where = sqlTargetDescription(target);
    const allowed = target.allowedPasswordMethods ?? DEFAULT_PASSWORD_METHODS;
    let ssl: ReturnType<typeof pgSslOption>;
    try {
      ssl = pgSslOption(tls);
    } catch (err) {
      return Promise.reject(new SqlConnectError('other', `${where}: ${describeError(err)}`));
    }
    // We create the socket so that our timer can destroy it whatever phase pg is in.
    const socket = new Socket();
    /** Set when the server asked for a password method we do not answer. */
    let refused: PasswordMethodRefused | undefined;
    const password = target.password;
    const client = new pg.Client({
      host: target.host,
      port: target.port,
      database: target.database,
      user: target.user,
      // A function, so that pg asks us before sending anything: a refused method never gets it.
      // (Without a password pg may still look up ~/.pgpass; the socket is cut before that.)
      password:
        password === undefined
          ? undefined
          : () => {
              if (refused) throw refused;
              return password;
            },
      ssl,
      connectionTimeoutMillis: target.connectTimeoutMs,
      statement_timeout: target.statementTimeoutMs,
      application_name: target.applicationName ?? 'handyrep',
      ...(target.localCommit === true ? { options: '-c synchronous_commit=local' } : {}),
      keepAlive: true,
      keepAliveInitialDelayMillis: KEEPALIVE_INITIAL_DELAY_MS,
      stream: () => socket,
    });
    // Registered before pg's own handlers (attached at connect), so this runs first.
    for (const [event, method] of PASSWORD_REQUEST_EVENTS) {
      client.connection.on(event, () => {
        if (allowed.includes(method)) return;
        refused = new PasswordMethodRefused(method, allowed);
        socket.destroy(refused);
      });
    }
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
          const cause = refused ?? err;
          const kind = classifyConnectError(cause);
          reject(new SqlConnectError(kind, `${where}: connect failed (${kind}): ${describeDriverError(cause, target.password)}`, { cause }));
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

