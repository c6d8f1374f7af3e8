/**
 * get_setting: read one configuration value by key path. Anything in `passwords` is refused, whole
 * section included (seed 004: "get_setting will refuse to return anything in the passwords section");
 * any other secret (a webhook's headers, a command's parameters) comes back redacted.
 */
import { isPasswordPath, redactConfig } from './redact.js';
import type { HandyRepConfig } from './schema.js';

/** Outcome of a lookup; a refused or missing setting is a result, not an exception. */
export type SettingLookup =
  | { kind: 'found'; path: readonly string[]; value: unknown }
  | { kind: 'refused'; path: readonly string[]; reason: string }
  | { kind: 'not_found'; path: readonly string[]; reason: string };

/**
 * Looks a setting up. A string is a key of the `handyrep` section; a list is the full path
 * (`['failover', 'poll_interval']`, `['servers', 'paul', 'port']`). The value is a copy with
 * its secrets redacted (see redact.ts).
 */
export function getSetting(config: HandyRepConfig, setting: readonly string[] | string): SettingLookup {
  const path: readonly string[] = typeof setting === 'string' ? ['handyrep', setting] : [...setting];
  const shown = path.join('.');
  if (path.length === 0 || path.some((segment) => segment === '')) {
    return { kind: 'not_found', path, reason: `no setting named "${shown}": a setting name is required` };
  }
  if (isPasswordPath(path)) return { kind: 'refused', path, reason: 'settings in the passwords section are never returned' };
  let value: unknown = redactConfig(config);
  for (const segment of path) {
    if (!hasOwnSetting(value, segment)) return { kind: 'not_found', path, reason: `no setting named "${shown}"` };
    value = (value as Record<string, unknown>)[segment];
  }
  return { kind: 'found', path, value };
}

/** Own keys only (never `__proto__`, `constructor`, or an array's `length`). */
function hasOwnSetting(container: unknown, key: string): boolean {
  if (typeof container !== 'object' || container === null) return false;
  if (Array.isArray(container)) return /^(0|[1-9][0-9]*)$/.test(key) && Number(key) < container.length;
  return Object.hasOwn(container, key);
}
