/**
 * TLS and password-method policy for HandyRep's own PostgreSQL connections (node-postgres).
 *
 * sslmode follows libpq's names. node-postgres has no `prefer`: it is done here as TLS without
 * verification first and, when the server answers that it does not do TLS, plain again
 * (sql-client remembers such a server for a while instead of asking on every poll).
 */
import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';

export const SSL_MODES = ['disable', 'prefer', 'require', 'verify-ca', 'verify-full'] as const;
export type SslMode = (typeof SSL_MODES)[number];

/** Password methods a server may ask for (pg_hba `scram-sha-256`, `md5`, `password`). */
export const PASSWORD_METHODS = ['scram-sha-256', 'md5', 'password'] as const;
export type PasswordMethod = (typeof PASSWORD_METHODS)[number];

export interface SqlTls {
  mode: SslMode;
  rootcert: string | null;
  cert: string | null;
  key: string | null;
}

export const DEFAULT_TLS: SqlTls = { mode: 'prefer', rootcert: null, cert: null, key: null };

function readPem(setting: string, path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new Error(`cannot read ${setting} ${path}: ${(err as Error).message}`);
  }
}

/** node-postgres `ssl` option for `tls`: false for plain, else TLS options (files read now). */
export function pgSslOption(tls: SqlTls): false | ConnectionOptions {
  if (tls.mode === 'disable') return false;
  const options: ConnectionOptions = {};
  if (tls.cert !== null) options.cert = readPem('sslcert', tls.cert);
  if (tls.key !== null) options.key = readPem('sslkey', tls.key);
  if (tls.mode === 'prefer' || tls.mode === 'require') return { ...options, rejectUnauthorized: false };
  if (tls.rootcert !== null) options.ca = readPem('sslrootcert', tls.rootcert);
  options.rejectUnauthorized = true;
  // verify-ca: the chain only; verify-full keeps Node's hostname check (servername or IP SAN).
  if (tls.mode === 'verify-ca') options.checkServerIdentity = () => undefined;
  return options;
}

/** node-postgres's error when the server answers "N" to the SSLRequest. */
export function isServerWithoutTls(err: unknown): boolean {
  return err instanceof Error && /does not support SSL/i.test(err.message);
}

/** The method a password request stands for, from node-postgres's connection event name. */
export const PASSWORD_REQUEST_EVENTS: ReadonlyArray<[event: string, method: PasswordMethod]> = [
  ['authenticationCleartextPassword', 'password'],
  ['authenticationMD5Password', 'md5'],
  ['authenticationSASL', 'scram-sha-256'],
];
