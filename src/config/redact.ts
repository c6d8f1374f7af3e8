/**
 * Redaction of secrets. Everything under `passwords` is secret: it is never logged, never returned
 * by the API and never stored in the handyrep table (design §4), so any copy of the configuration
 * that leaves the process goes through `redactConfig` first.
 */
import type { HandyRepConfig } from './schema.js';

/** What a non-empty password is replaced with. */
export const REDACTED = '********';

/** True when a key path (`['passwords', 'superuser_pass']`, or the section itself) names a secret. */
export function isPasswordPath(path: readonly PropertyKey[]): boolean {
  return path[0] === 'passwords';
}

/**
 * A deep copy of `config` with every non-empty password replaced by `REDACTED`. Empty passwords
 * stay empty, so a reader can still tell "not set" from "set". The input is not modified.
 */
export function redactConfig(config: HandyRepConfig): HandyRepConfig {
  const copy = structuredClone(config);
  const passwords: Record<string, string> = {};
  for (const [key, value] of Object.entries(config.passwords)) passwords[key] = value === '' ? '' : REDACTED;
  return { ...copy, passwords: { ...copy.passwords, ...passwords } };
}
