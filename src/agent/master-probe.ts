/**
 * The agent's own vantage point on the recorded master (design §5 rule 1: the active probe
 * decides): one session to the master as handyrep_user, kept open, and `SELECT 1` on it each
 * round under a short timeout; a broken session is reopened with the same timeout. The answer is
 * published in the member record (`sees_master`), where controllers count it as a vantage point.
 * Classification is pure (classifyProbeError); a server that answers at all (even "password
 * authentication failed" or "the database system is starting up") is seen.
 *
 * The session is a lean one (nodes/lean-pg/): it runs every round of every replica's agent. A
 * login that fails (wrong password, no pg_hba.conf line, a password method not allowed) is said
 * once in the log; then, for LOGIN_RETRY_MS, each round only opens a connection and reads the
 * server's first answer to the startup (no password exchange: no key derivation each round, and
 * PostgreSQL logs nothing for a client that leaves at the password prompt) before logging in again.
 */
import { resolveServer } from '../config/merge.js';
import type { HandyRepConfig } from '../config/schema.js';
import { answersStartup, LeanPgError, LeanPgSession, type LeanPgTarget } from '../nodes/lean-pg/session.js';

export interface ProbeAnswer {
  /** null: the probe could not run (a local failure): unknown, never "does not see" (design §5 rule 1). */
  readonly sees: boolean | null;
  /** A short stable category (the record is rewritten only when it changes). */
  readonly detail: string;
}

/** Errors of the network path to the master: only these are "does not see" (pg_isready's exit 2). */
const NO_ANSWER_CODES: ReadonlySet<string> = new Set(['ECONNREFUSED', 'ETIMEDOUT', 'EHOSTUNREACH', 'EHOSTDOWN', 'ECONNRESET', 'EPIPE']);

/** How long after a failed login the probe only checks that the server answers the startup. */
export const LOGIN_RETRY_MS = 60_000;

/** What failed after the server had answered, in the detail of a "seen". */
function afterAnswer(err: unknown): string {
  if (!(err instanceof LeanPgError)) return 'the probe failed';
  switch (err.kind) {
    case 'timeout':
      return 'no answer within the timeout';
    case 'closed':
      return 'the connection ended';
    case 'network':
      return err.code || 'network';
    case 'protocol':
      return 'not the PostgreSQL protocol';
    default:
      return err.kind; // server and auth_refused: classified as answers on their own
  }
}

/**
 * A failed connect or query → seen, not seen, or unknown. `answered`: the server answered this
 * probe before it failed (its password request or a finished login, in this round): it is up and
 * speaks the protocol, so it is seen whatever failed after (a slow password exchange, a login or a
 * first query that did not end in time), as pg_isready counts any password request as "accepting
 * connections" (design §5 rule 1 models the vantage probe on it). Otherwise PostgreSQL's own
 * errors (an SQLSTATE, even a FATAL that ends the session) and a password request the probe
 * declines mean it answers. Refused, unreachable, no answer within the timeout, a connection cut
 * and bytes that are not PostgreSQL's (something else listens on its port: pg_isready's "no
 * response") are "does not see"; anything else (EMFILE, EAI_AGAIN, a TypeError: this host's own
 * trouble) is unknown. By default `answered` is what the error says of the connect.
 */
export function classifyProbeError(err: unknown, answered = err instanceof LeanPgError && err.startupAnswered): ProbeAnswer {
  if (answered && !(err instanceof LeanPgError && (err.kind === 'server' || err.kind === 'auth_refused'))) {
    return { sees: true, detail: `answers the startup, then ${afterAnswer(err)}` };
  }
  if (!(err instanceof LeanPgError)) {
    const code = (err as { code?: unknown } | null)?.code;
    return { sees: null, detail: `probe did not run (${typeof code === 'string' && code !== '' ? code : err instanceof Error ? err.name : 'error'})` };
  }
  switch (err.kind) {
    case 'server':
      return { sees: true, detail: `answers (SQLSTATE ${err.code})` };
    case 'auth_refused':
      return { sees: true, detail: 'answers (login not attempted: password method)' };
    case 'timeout':
      return { sees: false, detail: 'no answer within the timeout' };
    case 'closed':
      return { sees: false, detail: 'no answer (connection ended)' };
    case 'network':
      if (err.code === 'ECONNREFUSED') return { sees: false, detail: 'connection refused' };
      if (NO_ANSWER_CODES.has(err.code)) return { sees: false, detail: `no answer (${err.code})` };
      return { sees: null, detail: `probe did not run (${err.code || 'network'})` };
    case 'protocol':
      return { sees: false, detail: 'no answer (not the PostgreSQL protocol)' };
  }
}

/** A failure of the login itself (not of the server or the path): logging in again each round would fail the same way. */
export function isLoginFailure(err: unknown): boolean {
  if (!(err instanceof LeanPgError)) return false;
  // 28P01 wrong password, 28000 no pg_hba.conf line / role may not log in.
  return err.kind === 'auth_refused' || (err.kind === 'server' && (err.code === '28P01' || err.code === '28000'));
}

export class MasterProbe {
  #session: LeanPgSession | null = null;
  #target: string | null = null;
  /** When the last login failed (this agent's monotonic clock), for the current target. */
  #loginFailedAtMs: number | null = null;
  /** The connection settings of the last target probed. */
  #settings: { readonly master: string; readonly target: LeanPgTarget } | null = null;

  constructor(
    private readonly config: Readonly<HandyRepConfig>,
    private readonly timeoutMs: number,
    private readonly log: (line: string) => void = () => undefined,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Probe the server `master` (a name under servers). */
  async probe(master: string): Promise<ProbeAnswer> {
    const entry = this.config.servers[master];
    if (!entry) return { sees: null, detail: 'not a configured server' };
    if (this.#target !== master) {
      this.close();
      this.#loginFailedAtMs = null;
    }
    this.#target = master;
    // Resolved once per target: the configuration is the agent's for its lifetime (idle cost).
    const target = this.#settings?.master === master ? this.#settings.target : this.#resolve(master, entry);
    const failedAt = this.#loginFailedAtMs;
    if (failedAt !== null && this.now() - failedAt < LOGIN_RETRY_MS) {
      const answer = await answersStartup(target);
      return answer === true ? { sees: true, detail: 'answers (login failed before)' } : classifyProbeError(answer);
    }
    // A session opened in this round: the server answered this probe, whatever its query does.
    let openedNow = false;
    try {
      if (this.#session === null || this.#session.ended) {
        this.#session = null;
        this.#session = await LeanPgSession.connect(target);
        openedNow = true;
      }
      await this.#session.query('SELECT 1', this.timeoutMs);
      if (failedAt !== null) this.log(`the probe of the master ${master} logs in again`);
      this.#loginFailedAtMs = null;
      return { sees: true, detail: 'answers SELECT 1' };
    } catch (err) {
      this.close();
      if (isLoginFailure(err)) {
        if (failedAt === null) {
          this.log(
            `the probe of the master ${master} cannot log in as ${target.user}: ${(err as Error).message}${err instanceof LeanPgError && err.code !== '' ? ` (SQLSTATE ${err.code})` : ''}. ` +
              `Check passwords.handyrep_db_pass and the master's pg_hba.conf. The master still counts as answering; ` +
              `until a login succeeds the probe only checks that it answers a connection, and tries to log in again every ${LOGIN_RETRY_MS / 1000} s`,
          );
        }
        this.#loginFailedAtMs = this.now();
      }
      return classifyProbeError(err, openedNow || (err instanceof LeanPgError && err.startupAnswered));
    }
  }

  #resolve(master: string, entry: NonNullable<HandyRepConfig['servers'][string]>): LeanPgTarget {
    const server = resolveServer(this.config.server_defaults, entry);
    const target: LeanPgTarget = {
      host: server.hostname,
      port: server.port,
      user: this.config.handyrep.handyrep_user,
      database: this.config.handyrep.handyrep_db,
      ...(this.config.passwords.handyrep_db_pass ? { password: this.config.passwords.handyrep_db_pass } : {}),
      allowedPasswordMethods: this.config.handyrep.allowed_password_methods,
      applicationName: 'handyrep-agent-probe',
      connectTimeoutMs: this.timeoutMs,
    };
    this.#settings = { master, target };
    return target;
  }

  close(): void {
    const session = this.#session;
    this.#session = null;
    session?.end();
  }
}
