/**
 * Server settings resolution and path resolution. Pure: no I/O, no clock.
 *
 * Precedence, lowest first (reference §5.7): built-ins < `server_defaults` < the server's entry in
 * `servers` < runtime changes (add_server, alter_server_def, the saved state). Only keys a layer
 * actually sets count; `undefined` never overrides, `null` does (it means "none", e.g. pgconf).
 */
import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { SERVER_SETTING_KEYS, type ServerSettings } from './schema.js';

/** A server's complete definition: every setting, plus hostname, role and enabled. */
export type ResolvedServerSettings = ServerSettings & { hostname: string; role: string; enabled: boolean };

/** One layer of overrides: any subset of a server's definition. */
export type ServerOverrides = Partial<ResolvedServerSettings>;

/**
 * What a server is before anything else says otherwise. A server added at runtime starts disabled,
 * as in the original: it joins failover only when someone enables it.
 */
export const SERVER_BUILT_INS: Readonly<Pick<ResolvedServerSettings, 'role' | 'enabled'>> = Object.freeze({
  role: 'replica',
  enabled: false,
});

/** The keys a resolved server has; anything else in a layer (status, facts) is ignored. */
const RESOLVED_KEYS: readonly (keyof ResolvedServerSettings)[] = ['hostname', 'role', 'enabled', ...SERVER_SETTING_KEYS];

/**
 * Merges `defaults` (server_defaults), the server's `entry` and any later `changes`, in that order.
 * The entry must name a hostname; a change may replace it. Returns a new object.
 */
export function resolveServer(
  defaults: ServerSettings,
  entry: ServerOverrides & { hostname: string },
  ...changes: readonly ServerOverrides[]
): ResolvedServerSettings {
  const merged: Record<string, unknown> = { ...SERVER_BUILT_INS };
  for (const layer of [defaults, entry, ...changes] as readonly ServerOverrides[]) {
    for (const key of RESOLVED_KEYS) {
      if (Object.hasOwn(layer, key) && layer[key] !== undefined) merged[key] = layer[key];
    }
  }
  // Complete by construction: `defaults` has every setting and `entry` the hostname.
  return merged as ResolvedServerSettings;
}

/**
 * Resolves a path from the configuration on the controller: `~` and `~/…` are the home folder of
 * the user HandyRep runs as, relative paths are relative to the configuration file's folder,
 * absolute paths stay as they are. (Paths on the nodes, like pgdata, are not resolved here.)
 */
export function resolvePath(configDir: string, p: string, home: string = homedir()): string {
  if (p === '~') return home;
  if (p.startsWith('~/')) return join(home, p.slice(2));
  return isAbsolute(p) ? resolve(p) : resolve(configDir, p);
}
