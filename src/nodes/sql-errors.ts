/**
 * Errors of the SQL effects: connection failures classified by kind (the difference between a
 * server that is down, one that is unreachable, and one that is starting), query failures with
 * their SQLSTATE. No message built here may ever contain the password.
 */
import { describeError, HandyRepError } from '../model/errors.js';
import type { PasswordMethod } from './pg-tls.js';
import type { ConnectFailureKind } from './ports.js';

/** A failed connection attempt (code SQL) with the kind of failure. */
export class SqlConnectError extends HandyRepError {
  constructor(
    readonly kind: ConnectFailureKind,
    message: string,
    options?: { cause?: unknown },
  ) {
    super('SQL', message, options);
  }
}

/** Only SCRAM unless the configuration lists more (handyrep.allowed_password_methods). */
export const DEFAULT_PASSWORD_METHODS: readonly PasswordMethod[] = ['scram-sha-256'];

const METHOD_DESCRIPTIONS: Record<PasswordMethod, string> = {
  password: 'a cleartext password (pg_hba method "password")',
  md5: 'an MD5 password hash (pg_hba method "md5" with a role whose password is stored as MD5)',
  'scram-sha-256': 'SCRAM-SHA-256',
};

/** The server asked for a password method the configuration does not allow: nothing was sent. */
export class PasswordMethodRefused extends Error {
  override readonly name = 'PasswordMethodRefused';
  constructor(
    readonly method: PasswordMethod,
    allowed: readonly PasswordMethod[],
  ) {
    super(
      `the server asked for ${METHOD_DESCRIPTIONS[method]}; refused, no password sent: handyrep.allowed_password_methods is [${allowed.join(', ')}] (use scram-sha-256 in pg_hba.conf, or add "${method}" to that list knowingly)`,
    );
  }
}

/** The fields of pg and socket errors that classification looks at. */
interface DriverError {
  code?: unknown;
  message?: unknown;
}

const AUTH_SQLSTATES = new Set([
  '28P01', // invalid_password
  '28000', // invalid_authorization_specification (no pg_hba entry, unknown role)
  '3D000', // invalid_catalog_name (unknown database)
]);

/** Classifies a connect error from pg or the socket under it. */
export function classifyConnectError(err: unknown): ConnectFailureKind {
  // Node's happy-eyeballs connect (a name with several addresses) fails with an AggregateError.
  if (err instanceof AggregateError && err.errors.length > 0 && fields(err).code === '') {
    const kinds = err.errors.map(classifyConnectError);
    return kinds.every((kind) => kind === kinds[0]) ? (kinds[0] ?? 'other') : 'other';
  }
  if (err instanceof PasswordMethodRefused) return 'auth';
  const { code, message } = fields(err);
  if (code === 'ECONNREFUSED') return 'refused';
  if (code === 'ETIMEDOUT' || code === 'EHOSTUNREACH') return 'timeout';
  if (code === '57P03') return 'starting'; // cannot_connect_now: starting up, shutting down, recovery
  if (AUTH_SQLSTATES.has(code)) return 'auth';
  // pg's own connectionTimeoutMillis: "timeout expired" / "... due to connection timeout".
  if (/timeout/i.test(message)) return 'timeout';
  return 'other';
}

/** `message (SQLSTATE xxxxx)` or `message (ECODE)`, with the secret masked. */
export function describeDriverError(err: unknown, secret: string | undefined): string {
  const { code } = fields(err);
  const base = describeError(err);
  const suffix = code === '' ? '' : /^[0-9A-Z]{5}$/.test(code) ? ` (SQLSTATE ${code})` : ` (${code})`;
  return maskSecret(base + suffix, secret);
}

/** Replaces every occurrence of `secret` in `text` with `***`. */
export function maskSecret(text: string, secret: string | undefined): string {
  if (secret === undefined || secret === '') return text;
  return text.split(secret).join('***');
}

/** A query failure as HandyRepError('SQL'), naming the server and the SQLSTATE. */
export function queryError(where: string, err: unknown, secret: string | undefined): HandyRepError {
  return new HandyRepError('SQL', `${where}: query failed: ${describeDriverError(err, secret)}`);
}

function fields(err: unknown): { code: string; message: string } {
  const driver = (typeof err === 'object' && err !== null ? err : {}) as DriverError;
  return {
    code: typeof driver.code === 'string' ? driver.code : '',
    message: typeof driver.message === 'string' ? driver.message : String(err),
  };
}
