/**
 * A lean PostgreSQL session for the agent's per-round queries (the local facts, the probe of the
 * master): simple queries, text values, nothing else. A bare process doing `SELECT 1` each second
 * costs 0.094 % of a core through node-postgres and 0.057 % on the same socket directly; in the
 * agent, with the round's batching, about 0.03 % (docs/node-agent.md, "Where an idle agent's CPU
 * goes", third look). It also lets the probe keep to the allowed password methods and check a
 * master it cannot log in to without a login each round (master-probe.ts).
 *
 * Every wait is bounded: the connect (socket, startup, password exchange) by one timer, each
 * query by its own; either timing out destroys the session. Password methods beyond those the
 * configuration allows are refused before anything is sent (handyrep.allowed_password_methods,
 * as the controller's SQL client does).
 */
import { createHash, randomBytes } from 'node:crypto';
import { Socket } from 'node:net';
import type { PasswordMethod } from '../pg-tls.js';
import { checkServerFinal, SCRAM_MECHANISM, scramClientFinal, scramClientFirst, type ScramFinal, type ScramFirst } from './scram.js';
import { BackendMessageReader, parseAuthRequest, parseDataRow, parseErrorFields, parseRowDescription, passwordMessage, queryMessage, saslInitialMessage, saslResponseMessage, startupMessage, terminateMessage, type BackendMessage } from './wire.js';

export interface LeanPgTarget {
  /** A hostname or address, or the directory of a unix socket (an absolute path). */
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly database: string;
  readonly applicationName: string;
  readonly password?: string;
  readonly allowedPasswordMethods: readonly PasswordMethod[];
  readonly connectTimeoutMs: number;
}

/**
 * Why a session or a query failed:
 *   - `server`: PostgreSQL answered with an error (`code` is its SQLSTATE): it is up and answers;
 *   - `auth_refused`: it asked for a password method this session does not send (not allowed, or
 *     unknown to it): it answered too, nothing was sent;
 *   - `timeout`: no answer within the timeout; `closed`: the connection ended before the answer;
 *   - `network`: the socket failed (`code` is the system's: ECONNREFUSED, EHOSTUNREACH …);
 *   - `protocol`: the bytes were not PostgreSQL's protocol, or the session was ended here.
 */
export type LeanPgErrorKind = 'server' | 'auth_refused' | 'timeout' | 'closed' | 'network' | 'protocol';

export class LeanPgError extends Error {
  override readonly name = 'LeanPgError';
  constructor(
    readonly kind: LeanPgErrorKind,
    message: string,
    /** SQLSTATE for `server`, the system's error code for `network`, else ''. */
    readonly code = '',
    /**
     * A connect that failed after the server's first answer to the startup (its password request,
     * or "authenticated"): the server is up and speaks the protocol; what failed came later (a slow
     * password exchange, a login that did not finish).
     */
    readonly startupAnswered = false,
  ) {
    super(message);
  }
}

export interface LeanPgResult {
  readonly columns: readonly string[];
  readonly rows: readonly (readonly (string | null)[])[];
}

/** One row as name → text (null for NULL); undefined when the result has no row. */
export function firstRow(result: LeanPgResult): Readonly<Record<string, string | null>> | undefined {
  const row = result.rows[0];
  if (row === undefined) return undefined;
  const columns = result.columns;
  if (row.length !== columns.length) throw new LeanPgError('protocol', `a row of ${row.length} values for ${columns.length} columns`);
  const named: Record<string, string | null> = {};
  for (let i = 0; i < columns.length; i++) named[columns[i] as string] = row[i] as string | null;
  return named;
}

interface Pending {
  readonly resolve: (result: LeanPgResult) => void;
  readonly reject: (err: LeanPgError) => void;
  columns: string[];
  rows: (string | null)[][];
  error: LeanPgError | null;
}

/** How long end() lets the Terminate message go out before the socket is destroyed anyway. */
const END_WAIT_MS = 1000;

const PASSWORD_METHOD_NAMES: Record<PasswordMethod, string> = { password: 'a cleartext password', md5: 'an MD5 password hash', 'scram-sha-256': 'SCRAM-SHA-256' };

function serverError(body: Buffer): LeanPgError {
  const fields = parseErrorFields(body);
  return new LeanPgError('server', `${fields['S'] ?? 'ERROR'}: ${fields['M'] ?? 'no message'}`, fields['C'] ?? '');
}

export class LeanPgSession {
  readonly #socket: Socket;
  readonly #reader = new BackendMessageReader();
  #pending: Pending | null = null;
  /** A query was sent and its answer has not settled yet; the next ones wait in #waiting. */
  #running = false;
  readonly #waiting: (() => void)[] = [];
  /** The last query's text and its message, sent again as is (the round sends the same query each time). */
  #lastSql = '';
  #lastMessage: Buffer | null = null;
  #ended = false;
  #closeListeners: (() => void)[] = [];

  private constructor(socket: Socket) {
    this.#socket = socket;
  }

  /** Opens a session: socket, startup, password exchange, until PostgreSQL is ready for queries. */
  static connect(target: LeanPgTarget): Promise<LeanPgSession> {
    const socket = new Socket();
    const session = new LeanPgSession(socket);
    return session.#start(target);
  }

  /** Called once when the session ends without end() asking for it (the server closed it, a socket error). */
  onLost(listener: () => void): void {
    this.#closeListeners.push(listener);
  }

  get ended(): boolean {
    return this.#ended;
  }

  /** One simple query (one statement); its rows as text. Queued behind a query still running. */
  query(sql: string, timeoutMs: number): Promise<LeanPgResult> {
    // The usual case, no query running: sent now, no promise chained ahead of it (idle cost).
    const answer = !this.#running
      ? this.#run(sql, timeoutMs)
      : new Promise<LeanPgResult>((resolve, reject) => {
          this.#waiting.push(() => void this.#run(sql, timeoutMs).then(resolve, reject));
        });
    // A session can fail a query before its caller has awaited it (a FATAL while the caller waits
    // on something else): that must not be an unhandled rejection, which ends the process. The
    // caller still gets the failure when it awaits.
    answer.catch(() => undefined);
    return answer;
  }

  /** Ends the session politely (Terminate); onLost listeners are not called. */
  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#closeListeners = [];
    this.#failPending(new LeanPgError('protocol', 'the session was ended'));
    const socket = this.#socket;
    if (!socket.writable) return void socket.destroy();
    // Terminate, then closed for sure: a half-closed socket to a host that vanished would hold its
    // descriptor until TCP gives up (minutes).
    socket.end(terminateMessage(), () => socket.destroy());
    setTimeout(() => socket.destroy(), END_WAIT_MS).unref();
  }

  #start(target: LeanPgTarget): Promise<LeanPgSession> {
    const socket = this.#socket;
    return new Promise<LeanPgSession>((resolve, reject) => {
      let settled = false;
      /** The server's first answer to the startup arrived (an authentication message). */
      let answered = false;
      const fail = (err: LeanPgError): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.#ended = true;
        this.#closeListeners = [];
        socket.destroy();
        reject(answered && !err.startupAnswered ? new LeanPgError(err.kind, err.message, err.code, true) : err);
      };
      const timer = setTimeout(
        () => fail(new LeanPgError('timeout', answered ? `the login did not end within ${target.connectTimeoutMs} ms (the server answered the startup)` : `no answer within ${target.connectTimeoutMs} ms (connect)`)),
        target.connectTimeoutMs,
      );
      let scram: { first: ScramFirst; final: ScramFinal | null } | null = null;
      let scramVerified = false;
      let authenticated = false;
      const handshake = async (msg: BackendMessage): Promise<void> => {
        if (msg.type === 'E') return fail(serverError(msg.body));
        if (msg.type === 'Z') {
          if (!authenticated) return fail(new LeanPgError('protocol', 'ready for queries before the authentication ended'));
          settled = true;
          clearTimeout(timer);
          return resolve(this);
        }
        if (msg.type !== 'R') return; // ParameterStatus, BackendKeyData, notices
        answered = true;
        const request = parseAuthRequest(msg.body);
        if (request.kind === 'ok') {
          // SCRAM is mutual: a server that says "ok" without proving it knows the password is not believed.
          if (scram !== null && !scramVerified) return fail(new LeanPgError('protocol', 'SCRAM: authenticated without the server\'s final message'));
          authenticated = true;
          return;
        }
        const method: PasswordMethod | null = request.kind === 'cleartext' ? 'password' : request.kind === 'md5' ? 'md5' : request.kind.startsWith('sasl') ? 'scram-sha-256' : null;
        if (method === null || (request.kind === 'sasl' && !request.mechanisms.includes(SCRAM_MECHANISM))) {
          return fail(new LeanPgError('auth_refused', `the server asked for an authentication this session does not answer (${request.kind === 'sasl' ? request.mechanisms.join(', ') : `request ${request.kind === 'other' ? request.code : request.kind}`})`));
        }
        if (!target.allowedPasswordMethods.includes(method)) {
          return fail(new LeanPgError('auth_refused', `the server asked for ${PASSWORD_METHOD_NAMES[method]}; refused, no password sent: handyrep.allowed_password_methods is [${target.allowedPasswordMethods.join(', ')}]`));
        }
        if (target.password === undefined) return fail(new LeanPgError('auth_refused', `the server asked for ${PASSWORD_METHOD_NAMES[method]} and no password is configured (passwords.handyrep_db_pass)`));
        if (request.kind === 'cleartext') socket.write(passwordMessage(target.password));
        else if (request.kind === 'md5') {
          const md5 = (data: Buffer | string): string => createHash('md5').update(data).digest('hex');
          socket.write(passwordMessage(`md5${md5(Buffer.concat([Buffer.from(md5(target.password + target.user)), request.salt]))}`));
        } else if (request.kind === 'sasl') {
          scram = { first: scramClientFirst(randomBytes(18).toString('base64')), final: null };
          socket.write(saslInitialMessage(SCRAM_MECHANISM, scram.first.message));
        } else if (request.kind === 'sasl_continue') {
          if (scram === null || scram.final !== null) return fail(new LeanPgError('protocol', 'SCRAM: a server message out of order'));
          scram.final = await scramClientFinal(target.password, scram.first, request.data);
          if (!settled) socket.write(saslResponseMessage(scram.final.message));
        } else if (request.kind === 'sasl_final') {
          if (scram?.final == null) return fail(new LeanPgError('protocol', 'SCRAM: a server message out of order'));
          checkServerFinal(request.data, scram.final);
          scramVerified = true;
        }
      };
      // Messages are handled one after another even though SCRAM's key derivation is asynchronous.
      let handling: Promise<void> = Promise.resolve();
      /** Messages queued on `handling` and not handled yet. */
      let queued = 0;
      socket.on('data', (chunk: Buffer) => {
        let messages: BackendMessage[];
        try {
          messages = this.#reader.push(chunk);
        } catch (err) {
          return settled ? this.#lose(new LeanPgError('protocol', (err as Error).message)) : fail(new LeanPgError('protocol', (err as Error).message));
        }
        for (const msg of messages) {
          // Once the session is open and nothing of the startup waits, a query's answers are handled
          // at once (#onMessage is synchronous and catches its own errors): no promise per message.
          if (settled && queued === 0) {
            this.#onMessage(msg);
            continue;
          }
          // Settled or not is asked when each message's turn comes: a FATAL right behind the startup's
          // ReadyForQuery ends the session it opened.
          queued++;
          handling = handling
            .then(() => (settled ? this.#onMessage(msg) : handshake(msg)))
            .catch((err: unknown) => fail(err instanceof LeanPgError ? err : new LeanPgError('protocol', (err as Error).message)))
            .finally(() => void queued--);
        }
      });
      socket.on('error', (err: NodeJS.ErrnoException) => {
        const failure = new LeanPgError('network', err.message, err.code ?? '');
        if (!settled) fail(failure);
        else this.#lose(failure);
      });
      socket.on('close', () => {
        if (!settled) fail(new LeanPgError('closed', 'the connection ended during the startup'));
        else this.#lose(new LeanPgError('closed', 'the connection ended'));
      });
      const params = { user: target.user, database: target.database, application_name: target.applicationName };
      socket.once('connect', () => socket.write(startupMessage(params)));
      connectSocket(socket, target);
    });
  }

  #run(sql: string, timeoutMs: number): Promise<LeanPgResult> {
    if (this.#ended) {
      this.#running = false;
      return Promise.reject(new LeanPgError('closed', 'the session has ended'));
    }
    this.#running = true;
    return new Promise<LeanPgResult>((resolve, reject) => {
      // A timeout is this side's decision, not the server ending the session: no onLost listener hears of it.
      const timer = setTimeout(() => this.#lose(new LeanPgError('timeout', `no answer within ${timeoutMs} ms (query)`), false), timeoutMs);
      this.#pending = {
        resolve: (result) => {
          clearTimeout(timer);
          resolve(result);
          this.#next();
        },
        reject: (err) => {
          clearTimeout(timer);
          reject(err);
          this.#next();
        },
        columns: [],
        rows: [],
        error: null,
      };
      if (sql !== this.#lastSql || this.#lastMessage === null) {
        this.#lastSql = sql;
        this.#lastMessage = queryMessage(sql);
      }
      this.#socket.write(this.#lastMessage);
    });
  }

  /**
   * The query that settled lets the next one waiting go; once the session has ended, every one
   * waiting fails now, oldest first (#run refuses on an ended session).
   */
  #next(): void {
    this.#running = false;
    if (!this.#ended) {
      this.#waiting.shift()?.();
      return;
    }
    const waiting = this.#waiting.splice(0);
    for (const start of waiting) start();
  }

  #onMessage(msg: BackendMessage): void {
    const pending = this.#pending;
    try {
      if (msg.type === 'E') {
        const err = serverError(msg.body);
        // A FATAL error outside a query (pg_terminate_backend, a shutdown) ends the session.
        if (pending === null) this.#lose(err);
        else pending.error ??= err;
      } else if (msg.type === 'N' || msg.type === 'S' || msg.type === 'A') {
        // Notices, parameter changes, notifications: nothing a lean session keeps.
      } else if (pending === null) {
        this.#lose(new LeanPgError('protocol', `an unexpected message '${msg.type}' outside a query`));
      } else if (msg.type === 'T') pending.columns = parseRowDescription(msg.body);
      else if (msg.type === 'D') pending.rows.push(parseDataRow(msg.body));
      else if (msg.type === 'Z') {
        this.#pending = null;
        if (pending.error !== null) pending.reject(pending.error);
        else pending.resolve({ columns: pending.columns, rows: pending.rows });
      } else if (msg.type !== 'C' && msg.type !== 'I') {
        // CommandComplete and EmptyQueryResponse carry nothing kept; anything else is not the simple protocol.
        this.#lose(new LeanPgError('protocol', `an unexpected message '${msg.type}' during a query`));
      }
    } catch (err) {
      this.#lose(new LeanPgError('protocol', (err as Error).message));
    }
  }

  #failPending(err: LeanPgError): void {
    const pending = this.#pending;
    this.#pending = null;
    pending?.reject(err);
  }

  /** The session is over without end(): the query waiting fails, listeners hear of it once (`notify`). */
  #lose(err: LeanPgError, notify = true): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#socket.destroy();
    // The server's own error (a FATAL before it closed: pg_terminate_backend, idle_session_timeout)
    // is the answer, not the close that followed it: the server answered.
    this.#failPending(this.#pending?.error ?? err);
    const listeners = notify ? this.#closeListeners : [];
    this.#closeListeners = [];
    for (const listener of listeners) {
      try {
        listener();
      } catch {
        // One listener's failure must not keep the others from hearing, nor escape into the socket's handler.
      }
    }
  }
}

/**
 * Whether PostgreSQL answers a connection's startup at all, without logging in: true on its first
 * answer (a password request, or "authenticated" for trust), its error otherwise (an ErrorResponse
 * is its answer too: kind `server`). The connection is cut right after; PostgreSQL logs nothing
 * for a client that leaves at the password prompt.
 */
export function answersStartup(target: Pick<LeanPgTarget, 'host' | 'port' | 'user' | 'database' | 'applicationName' | 'connectTimeoutMs'>): Promise<true | LeanPgError> {
  const socket = new Socket();
  const reader = new BackendMessageReader();
  return new Promise<true | LeanPgError>((resolve) => {
    const done = (answer: true | LeanPgError): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(answer);
    };
    const timer = setTimeout(() => done(new LeanPgError('timeout', `no answer within ${target.connectTimeoutMs} ms (connect)`)), target.connectTimeoutMs);
    socket.on('data', (chunk: Buffer) => {
      try {
        const first = reader.push(chunk)[0];
        if (first === undefined) return;
        if (first.type === 'R') done(true);
        else if (first.type === 'E') done(serverError(first.body));
        else done(new LeanPgError('protocol', `an unexpected first message '${first.type}'`));
      } catch (err) {
        done(new LeanPgError('protocol', (err as Error).message));
      }
    });
    socket.on('error', (err: NodeJS.ErrnoException) => done(new LeanPgError('network', err.message, err.code ?? '')));
    socket.on('close', () => done(new LeanPgError('closed', 'the connection ended before an answer')));
    socket.once('connect', () => socket.write(startupMessage({ user: target.user, database: target.database, application_name: target.applicationName })));
    connectSocket(socket, target);
  });
}

function connectSocket(socket: Socket, target: Pick<LeanPgTarget, 'host' | 'port'>): void {
  if (target.host.startsWith('/')) socket.connect({ path: `${target.host}/.s.PGSQL.${target.port}` });
  else {
    socket.setNoDelay(true);
    socket.connect({ host: target.host, port: target.port });
  }
}
