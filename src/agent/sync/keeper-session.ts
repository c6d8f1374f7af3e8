/**
 * The keeper's own SQL session to its local PostgreSQL (the master), every statement bounded by a
 * deadline derived from the agent's etcd call budget. Its own, not the agent's round session: a
 * statement that hangs (a stuck PostgreSQL, a stopped backend) must not queue the round's facts
 * query behind it, and a dropped keeper session must not look like a lost master session
 * (session-watch.ts wakes a round for that). Two bounds: `statement_timeout` on the session, so a
 * server that still works cancels the statement itself (the session stays usable), and a timer
 * here for a server that does not answer at all: the session is then dropped (its socket left to
 * close whenever the server wakes) and the next pass opens a new one. Either way the pass fails at
 * that statement: the keeper records nothing after it, and its next pass reads everything again.
 */
import pg from 'pg';
import { HandyRepError } from '../../model/errors.js';
import type { SqlRow, SqlSession, SqlValue } from '../../nodes/ports.js';
import { KEEPER_APPLICATION_NAME } from './keeper-pg-settle.js';

export interface KeeperSessionTarget {
  readonly socketDir: string;
  readonly port: number;
}

/**
 * `run` raced against `deadlineMs`: on expiry `onExpiry` runs (drop the connection) and the result
 * is an SQL error naming the statement; a late answer is ignored.
 */
export async function beforeDeadline<T>(what: string, deadlineMs: number, run: () => Promise<T>, onExpiry: () => void): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      onExpiry();
      reject(new HandyRepError('SQL', `the local PostgreSQL did not answer within ${deadlineMs} ms (${what}): the keeper's session is dropped, nothing after it done this pass`));
    }, deadlineMs);
  });
  try {
    return await Promise.race([run(), expired]);
  } finally {
    clearTimeout(timer);
  }
}

/** The server-side statement_timeout for a client deadline: 80 % of it, at least 1 ms. */
export function statementTimeoutMs(deadlineMs: number): number {
  return Math.max(1, Math.floor(deadlineMs * 0.8));
}

/** The first words of a statement, for messages (never its parameters). */
const gist = (text: string): string => text.replace(/\s+/g, ' ').trim().slice(0, 48);

export class KeeperSession {
  #client: pg.Client | null = null;
  #opening: Promise<pg.Client> | null = null;
  /** Bumped by close(): a connection that completes after it (timed out, or the agent stopping) is ended, not kept. */
  #generation = 0;

  constructor(
    private readonly target: KeeperSessionTarget,
    /** Per statement (and for connecting): the agent's etcd call budget. */
    readonly deadlineMs: number,
  ) {}

  /** The session as a query port (opened on first use); `end` does nothing: it is kept for the next pass. */
  async session(): Promise<SqlSession> {
    const client = await beforeDeadline('connect', this.deadlineMs, () => this.#open(), () => this.close());
    return {
      query: <Row extends SqlRow>(text: string, params?: readonly SqlValue[]) =>
        beforeDeadline(gist(text), this.deadlineMs, async () => (await client.query<Row>(text, params === undefined ? undefined : [...params])).rows, () => this.#drop(client)),
      end: async () => undefined,
    };
  }

  close(): void {
    const client = this.#client;
    this.#generation += 1;
    this.#client = null;
    this.#opening = null;
    if (client) void client.end().catch(() => undefined);
  }

  #drop(client: pg.Client): void {
    if (this.#client === client) this.close();
    else void client.end().catch(() => undefined);
  }

  #open(): Promise<pg.Client> {
    if (this.#client !== null) return Promise.resolve(this.#client);
    this.#opening ??= this.#connect().finally(() => {
      this.#opening = null;
    });
    return this.#opening;
  }

  async #connect(): Promise<pg.Client> {
    const generation = this.#generation;
    const client = new pg.Client({ host: this.target.socketDir, port: this.target.port, user: 'postgres', database: 'postgres', application_name: KEEPER_APPLICATION_NAME, connectionTimeoutMillis: this.deadlineMs });
    // A session the server ended (a restart, a crash) is opened again at the next pass.
    const gone = (): void => this.#drop(client);
    client.on('error', gone);
    client.on('end', gone);
    try {
      await client.connect();
      // The server-side bound (whole milliseconds; set here, not per statement: ALTER SYSTEM runs
      // outside any transaction). A fifth below the client's deadline, so a server that still works
      // cancels the statement itself and the session is kept (review s8 N1: the same deadline let
      // the client timer, started earlier, always win).
      await client.query(`SET statement_timeout = ${statementTimeoutMs(this.deadlineMs)}`);
      if (generation !== this.#generation) throw new Error('the keeper session was closed while it connected');
    } catch (err) {
      void client.end().catch(() => undefined);
      throw err;
    }
    this.#client = client;
    return client;
  }
}
