/**
 * The agent's hands on its own PostgreSQL: SQL over the unix socket (no network, no password:
 * the agent runs as the PostgreSQL OS user), postmaster.pid, and pg_ctl run with an argv array.
 * Nothing here decides; agent.ts calls these after decide.ts said so.
 */
import { execFile } from 'node:child_process';
import { readFileSync, readdirSync, readlinkSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { PgTextSession } from '../nodes/lean-pg/pg-text-session.js';
import { firstRow, LeanPgError, LeanPgSession } from '../nodes/lean-pg/session.js';
import { boolValue, floatValue, intValue, textValue, type TextRow } from '../nodes/lean-pg/text-values.js';
import type { PostgresObservation } from './postgres-state.js';
import { walDirTimeline } from './wal-timeline.js';

export interface LocalPostgresSettings {
  readonly pgdata: string;
  /** Directory passed to pg_ctl -D (pgconf or pgdata). */
  readonly pgctlDir: string;
  readonly pgBinDir: string;
  readonly port: number;
  readonly socketDir: string;
  readonly logFile: string | null;
}

/** The member facts read by SQL (absent when PostgreSQL did not answer). */
export interface SqlFacts {
  readonly in_recovery: boolean;
  readonly timeline: number | null;
  /** Current (master) or replayed (replica) WAL position. */
  readonly wal_position: string | null;
  readonly received_lsn: string | null;
  readonly replayed_lsn: string | null;
  readonly wal_receiver: string | null;
  readonly sender_host: string | null;
  /**
   * The sending server's WAL end as its last message told this replica (pg_stat_wal_receiver
   * latest_end_lsn, Patroni's fallback for the leader's position); null when not streaming.
   */
  readonly sender_end_lsn?: string | null;
  /** Seconds since the WAL receiver last heard its sender (this server's own clock); null when not streaming. */
  readonly sender_msg_age_s?: number | null;
  readonly replay_lag_bytes: number | null;
  readonly server_version: string;
}

/** The facts of a round (one row); exported for bench/agent-floor-child.ts. */
export const FACTS_QUERY = `
SELECT pg_is_in_recovery() AS in_recovery,
       (SELECT timeline_id FROM pg_control_checkpoint()) AS checkpoint_timeline,
       CASE WHEN pg_is_in_recovery() THEN NULL ELSE pg_walfile_name(pg_current_wal_lsn()) END AS wal_file,
       CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn()::text ELSE pg_current_wal_lsn()::text END AS wal_position,
       pg_last_wal_receive_lsn()::text AS received_lsn,
       pg_last_wal_replay_lsn()::text AS replayed_lsn,
       (SELECT status FROM pg_stat_wal_receiver LIMIT 1) AS wal_receiver,
       (SELECT received_tli FROM pg_stat_wal_receiver LIMIT 1) AS receiver_timeline,
       (SELECT sender_host FROM pg_stat_wal_receiver LIMIT 1) AS sender_host,
       (SELECT latest_end_lsn::text FROM pg_stat_wal_receiver WHERE status = 'streaming' LIMIT 1) AS sender_end_lsn,
       (SELECT extract(epoch FROM now() - last_msg_receipt_time)::float8 FROM pg_stat_wal_receiver WHERE status = 'streaming' LIMIT 1) AS sender_msg_age_s,
       CASE WHEN pg_is_in_recovery() THEN pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())::float8 END AS replay_lag_bytes,
       current_setting('server_version') AS server_version`;

interface FactsRow {
  in_recovery: boolean;
  checkpoint_timeline: number | null;
  wal_file: string | null;
  wal_position: string | null;
  received_lsn: string | null;
  replayed_lsn: string | null;
  wal_receiver: string | null;
  receiver_timeline: number | null;
  sender_host: string | null;
  sender_end_lsn: string | null;
  sender_msg_age_s: number | null;
  replay_lag_bytes: number | null;
  server_version: string;
}

/** FACTS_QUERY's row, read from its text values (throws when one is missing or malformed). */
export function factsRow(row: TextRow | undefined): FactsRow {
  if (row === undefined) throw new Error('the facts query returned no row');
  const inRecovery = boolValue(row, 'in_recovery');
  const version = textValue(row, 'server_version');
  if (inRecovery === null || version === null) throw new Error('the facts query returned NULL for in_recovery or server_version');
  return {
    in_recovery: inRecovery,
    checkpoint_timeline: intValue(row, 'checkpoint_timeline'),
    wal_file: textValue(row, 'wal_file'),
    wal_position: textValue(row, 'wal_position'),
    received_lsn: textValue(row, 'received_lsn'),
    replayed_lsn: textValue(row, 'replayed_lsn'),
    wal_receiver: textValue(row, 'wal_receiver'),
    receiver_timeline: intValue(row, 'receiver_timeline'),
    sender_host: textValue(row, 'sender_host'),
    sender_end_lsn: textValue(row, 'sender_end_lsn'),
    sender_msg_age_s: floatValue(row, 'sender_msg_age_s'),
    replay_lag_bytes: floatValue(row, 'replay_lag_bytes'),
    server_version: version,
  };
}

/** The agent's SQL session: lean, or node-postgres when the socket asks for a password. */
type LocalSession = LeanPgSession | PgTextSession;

/**
 * The SQL session is a lean one (nodes/lean-pg/): the facts query runs every round of every
 * agent, and a bare process's `SELECT 1` costs less through it than through node-postgres.
 */
export class LocalPostgres {
  #client: LocalSession | null = null;
  #connecting: Promise<LocalSession> | null = null;
  /** The socket asked for a password once: node-postgres from then on (it reads PGPASSWORD and ~/.pgpass). */
  #passwordOnSocket = false;
  /** The current session answered a query (only then is its loss a sign of a crash). */
  #answered = false;
  /** Counts disconnects, so a connect that completes after one is dropped. */
  #generation = 0;
  /** The postmaster pid read in a round where the current session, already open, answered (observe). */
  #sessionPid: number | null = null;

  constructor(
    readonly settings: LocalPostgresSettings,
    private readonly queryTimeoutMs: number,
    /**
     * Called when the SQL session, once it had answered, was ended by the server rather than by
     * this class: its backend exits at once when the postmaster dies (even SIGKILLed: Linux tells
     * every child), so this is how a crash is noticed between rounds without polling
     * (session-watch.ts). A close asked here (stop, kill, restart, the agent's own disconnect) never calls it.
     */
    private readonly onSessionLost: () => void = () => undefined,
    private readonly log: (line: string) => void = () => undefined,
  ) {}

  /**
   * postmaster.pid and whether its pid lives, plus the SQL facts when PostgreSQL answers. While
   * the kept session answers, its postmaster lives (a backend exits at once when its postmaster
   * dies, and the session's loss wakes a round: session-watch.ts), so the two file reads are
   * skipped and the pid read when the session answered first stands (idle cost). A query that
   * fails on the kept session falls back to the reads, without a second query (a round waits for
   * one timeout at most).
   */
  async observe(): Promise<{ observation: PostgresObservation; facts: SqlFacts | null }> {
    const kept = this.#client;
    const keptPid = this.#sessionPid;
    if (kept !== null && !kept.ended && this.#answered && keptPid !== null) {
      const facts = await this.#facts().catch(() => null);
      if (facts !== null && this.#client === kept) return { observation: { pidFilePid: keptPid, pidAlive: true, writable: !facts.in_recovery }, facts };
      return this.#observeFromFiles(false);
    }
    return this.#observeFromFiles(true);
  }

  /** The observation from postmaster.pid and /proc; the SQL facts too when `query` (else null). */
  async #observeFromFiles(query: boolean): Promise<{ observation: PostgresObservation; facts: SqlFacts | null }> {
    let pidFilePid = this.postmasterPid();
    const pidAlive = pidFilePid !== null && processAlive(pidFilePid);
    // A postmaster that exits by itself removes the file BEFORE it dies: read it again after
    // seeing the pid dead, or a clean stop that ends between the two reads looks like a crash.
    if (pidFilePid !== null && !pidAlive) pidFilePid = this.postmasterPid();
    const before = this.#client;
    const facts = pidAlive && query ? await this.#facts().catch(() => null) : null;
    if (!pidAlive) this.#disconnect();
    // The pid stands for the session only when that session was already open when the pid was read
    // (a session opened now may belong to a postmaster started since): it stands until the session goes.
    else if (facts !== null && this.#client !== null && this.#client === before) this.#sessionPid ??= pidFilePid;
    return { observation: { pidFilePid, pidAlive, writable: facts === null ? null : !facts.in_recovery }, facts };
  }

  /** The pid on the first line of postmaster.pid, or null. */
  postmasterPid(): number | null {
    let text: string;
    try {
      text = readFileSync(join(this.settings.pgdata, 'postmaster.pid'), 'utf8');
    } catch {
      return null;
    }
    const pid = Number(text.split('\n', 1)[0]);
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  }

  /**
   * Makes sure PostgreSQL is not writable any more: `pg_ctl stop -m fast` (bounded; skipped when urgent), then
   * `-m immediate`, then SIGKILL to the postmaster and every child of it. Returns how it ended.
   */
  async stopForSure(fastMs: number, urgent = false): Promise<'fast' | 'immediate' | 'killed' | 'not_running'> {
    this.#disconnect();
    const pid = this.postmasterPid();
    if (pid === null || !processAlive(pid)) return 'not_running';
    if (urgent) {
      // The lease is about to expire in etcd: SIGQUIT is what `pg_ctl stop -m immediate` sends, and
      // sending it here spares the exec of pg_ctl; every backend exits without answering its client.
      try {
        process.kill(pid, 'SIGQUIT');
      } catch {
        // already gone
      }
      if (await waitUntilGone(pid, 2000)) return 'immediate';
    } else {
      if (await this.#pgCtl(['stop', '-m', 'fast', '-w', '-t', String(Math.max(1, Math.ceil(fastMs / 1000)))], fastMs + 1000)) return 'fast';
      if (await this.#pgCtl(['stop', '-m', 'immediate', '-w', '-t', '2'], 3000)) return 'immediate';
    }
    killInstance(pid);
    return 'killed';
  }

  /**
   * Starts PostgreSQL again after its postmaster `crashedPid` died: waits (within `timeoutMs`) until
   * that instance is gone for good, then runs ONE `pg_ctl start -w`. True when it started.
   *
   * Never a loop of starts: an attempt whose server an operator stops before pg_ctl saw it ready
   * also fails, and starting again would undo that stop. The waiting replaces the retries instead:
   * PostgreSQL refuses to start while the dead postmaster's pid still exists (an unreaped zombie
   * passes its kill(pid, 0) lock-file check) or its children still hold the shared memory.
   */
  async restartAfterCrash(crashedPid: number, timeoutMs: number): Promise<boolean> {
    const deadline = performance.now() + timeoutMs;
    while (instanceLingers(this.settings.pgdata, crashedPid)) {
      if (deadline - performance.now() < 500) return false;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    return this.start(Math.floor(deadline - performance.now()));
  }

  /** One `pg_ctl start -w` bounded by `timeoutMs`; true when it started. */
  async start(timeoutMs: number): Promise<boolean> {
    if (timeoutMs < 500) return false;
    const log = this.settings.logFile === null ? [] : ['-l', this.settings.logFile];
    return this.#pgCtl(['start', '-w', '-t', String(Math.max(1, Math.floor(timeoutMs / 1000))), ...log], timeoutMs);
  }

  /** `pg_ctl promote -w` bounded by `timeoutMs`; true when PostgreSQL left recovery. */
  async promote(timeoutMs: number): Promise<boolean> {
    if (timeoutMs < 500) return false;
    return this.#pgCtl(['promote', '-w', '-t', String(Math.max(1, Math.floor(timeoutMs / 1000)))], timeoutMs);
  }

  /**
   * From now on every commit waits for a standby: synchronous_standby_names '*' (ALTER SYSTEM
   * works on a server in recovery), reloaded. Run before an agents' promotion under
   * synchronous_mode, so the new master acknowledges nothing only it holds.
   */
  async requireSynchronousStandby(): Promise<void> {
    await this.observe();
    const client = this.#client;
    if (client === null) throw new Error('PostgreSQL does not answer');
    await client.query("ALTER SYSTEM SET synchronous_standby_names = '*'", this.queryTimeoutMs);
    await client.query('SELECT pg_reload_conf()', this.queryTimeoutMs);
  }

  /**
   * The timeline and WAL position right after a promotion: from the current WAL file's name, as
   * pg_control's checkpoint timeline stays the old one until the end-of-recovery checkpoint.
   */
  async promotedPosition(): Promise<{ timeline: number | null; lsn: string | null }> {
    await this.observe();
    const client = this.#client;
    if (client === null) return { timeline: null, lsn: null };
    const row = firstRow(await client.query('SELECT pg_current_wal_lsn()::text AS lsn, pg_walfile_name(pg_current_wal_lsn()) AS wal_file', this.queryTimeoutMs));
    const walFile = row === undefined ? null : textValue(row, 'wal_file');
    const timeline = walFile === null ? NaN : Number.parseInt(walFile.slice(0, 8), 16);
    return { timeline: Number.isInteger(timeline) && timeline >= 1 ? timeline : null, lsn: row === undefined ? null : textValue(row, 'lsn') };
  }

  /** After a crash: kills the dead postmaster's leftover processes (killLeftovers). */
  killLeftovers(): number {
    this.#disconnect();
    return killLeftovers(this.settings.pgdata);
  }

  close(): void {
    this.#disconnect();
  }

  async #facts(): Promise<SqlFacts> {
    // A session that ended without telling (a timed-out query of promotedPosition, say) is replaced.
    if (this.#client?.ended) this.#disconnect();
    const client = this.#client ?? (await (this.#connecting ??= this.#open()));
    const facts = await this.#query(client);
    if (this.#client === client) this.#answered = true;
    return facts;
  }

  /**
   * A new session over the unix socket: a lean one, for peer or trust (the agent runs as the
   * PostgreSQL OS user); node-postgres once the socket asked for a password.
   */
  async #connect(): Promise<LocalSession> {
    const target = { port: this.settings.port, user: 'postgres', database: 'postgres', applicationName: 'handyrep-agent', connectTimeoutMs: this.queryTimeoutMs };
    if (this.#passwordOnSocket) return PgTextSession.connect({ ...target, socketDir: this.settings.socketDir });
    try {
      return await LeanPgSession.connect({ ...target, host: this.settings.socketDir, allowedPasswordMethods: [] });
    } catch (err) {
      if (!(err instanceof LeanPgError) || err.kind !== 'auth_refused') throw err;
      this.#passwordOnSocket = true;
      this.log(`PostgreSQL asks for a password on its unix socket (${this.settings.socketDir}); the agent's SQL session now uses node-postgres, which reads PGPASSWORD and ~/.pgpass, at a higher CPU cost per round: peer or trust for user postgres on the socket is recommended (pg_hba.conf "local all postgres peer")`);
      return PgTextSession.connect({ ...target, socketDir: this.settings.socketDir });
    }
  }

  async #open(): Promise<LocalSession> {
    const generation = this.#generation;
    const connecting = this.#connect();
    let client: LocalSession;
    try {
      client = await connecting;
    } finally {
      if (generation === this.#generation) this.#connecting = null;
    }
    // Disconnected while connecting (a stop, a kill): this session must not outlive that.
    if (generation !== this.#generation) {
      client.end();
      throw new Error('the session was closed while it connected');
    }
    // Ended by the server once it had answered, not here (#disconnect ends it silently): a crash's sign (session-watch.ts).
    client.onLost(() => {
      const byServer = this.#client === client && this.#answered;
      this.#disconnect();
      if (byServer) this.onSessionLost();
    });
    this.#client = client;
    this.#answered = false;
    return client;
  }

  async #query(client: LocalSession): Promise<SqlFacts> {
    try {
      const row = factsRow(firstRow(await client.query(FACTS_QUERY, this.queryTimeoutMs)));
      return {
        in_recovery: row.in_recovery,
        timeline: await this.#timeline(row),
        wal_position: row.wal_position,
        received_lsn: row.received_lsn,
        replayed_lsn: row.replayed_lsn,
        wal_receiver: row.wal_receiver,
        sender_host: row.sender_host,
        sender_end_lsn: row.sender_end_lsn,
        sender_msg_age_s: row.sender_msg_age_s,
        replay_lag_bytes: row.replay_lag_bytes,
        server_version: row.server_version,
      };
    } catch (err) {
      this.#disconnect();
      throw err;
    }
  }

  /**
   * The timeline of this node's WAL: the streamed one while the WAL receiver runs; on a standby
   * without one, the highest of pg_wal's segment files (wal-timeline.ts), never below the
   * checkpoint's; on a master, its current WAL file's.
   */
  async #timeline(row: FactsRow): Promise<number | null> {
    if (row.receiver_timeline !== null) return row.receiver_timeline;
    // A master: the current WAL file's timeline (pg_control's stays the old one until the
    // end-of-recovery checkpoint after a promotion, spread over minutes).
    if (!row.in_recovery) {
      const tli = row.wal_file === null ? Number.NaN : Number.parseInt(row.wal_file.slice(0, 8), 16);
      return Number.isInteger(tli) && tli >= 1 ? tli : row.checkpoint_timeline;
    }
    const fromWal = await walDirTimeline(this.settings.pgdata);
    if (fromWal === null) return row.checkpoint_timeline;
    return row.checkpoint_timeline === null ? fromWal : Math.max(fromWal, row.checkpoint_timeline);
  }

  #disconnect(): void {
    const client = this.#client;
    this.#client = null;
    this.#sessionPid = null;
    // A connect under way ends itself when it completes (#open); the next observe starts afresh.
    this.#connecting = null;
    this.#generation++;
    client?.end();
  }

  #pgCtl(args: readonly string[], timeoutMs: number): Promise<boolean> {
    return new Promise((resolve) => {
      execFile(join(this.settings.pgBinDir, 'pg_ctl'), ['-D', this.settings.pgctlDir, ...args], { timeout: timeoutMs, killSignal: 'SIGKILL' }, (err) => resolve(err === null));
    });
  }
}

/** Whether `pid` is a live process: a zombie (killed, not yet reaped by its parent) is dead. */
/** Polls until the process is gone (or a zombie); false when it still runs after `timeoutMs`. */
async function waitUntilGone(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (processAlive(pid)) {
    if (performance.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return true;
}

export function processAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/**
 * Whether anything of a dead instance is left: the postmaster's pid still in /proc (a zombie not
 * reaped yet), or a process whose working directory is the data folder (every PostgreSQL process
 * chdirs there; the dead postmaster's children hold its shared memory until they exit).
 */
export function instanceLingers(pgdata: string, postmasterPid: number): boolean {
  try {
    readFileSync(`/proc/${postmasterPid}/stat`);
    return true;
  } catch {
    // gone for good
  }
  return processesInFolder(pgdata).length > 0;
}

/** Processes other than this one whose working directory is `folder` (PostgreSQL's all chdir to the data folder). */
export function processesInFolder(folder: string): number[] {
  let dir: string;
  try {
    dir = realpathSync(folder);
  } catch {
    return [];
  }
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (readlinkSync(`/proc/${entry}/cwd`) === dir) pids.push(Number(entry));
    } catch {
      // gone meanwhile, or another user's process (not one of ours)
    }
  }
  return pids;
}

/**
 * SIGKILLs what is left of an instance whose postmaster died: its backends live on until they
 * notice, and one busy with a statement may still commit it. Returns how many were killed.
 */
export function killLeftovers(pgdata: string): number {
  let killed = 0;
  for (const pid of processesInFolder(pgdata)) {
    try {
      process.kill(pid, 'SIGKILL');
      killed += 1;
    } catch {
      // gone meanwhile
    }
  }
  return killed;
}

/** SIGKILL to the postmaster and its children (backends would otherwise finish their statement). */
function killInstance(postmaster: number): void {
  const children: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // Field 4 (ppid) comes after the command name in parentheses, which may hold spaces.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === postmaster) children.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  for (const pid of [postmaster, ...children]) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}
