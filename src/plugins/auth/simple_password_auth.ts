/**
 * simple_password_auth (reference §2.4, fixed): HTTP Basic, the user name is ignored.
 * `passwords.admin_password` may call every function; `passwords.read_password` only the
 * functions whose access is `read` in the operations table, or exactly those listed in
 * `plugins.simple_password_auth.ro_function_list`. Passwords are compared in constant time (equal
 * length SHA-256 digests through timingSafeEqual), an empty configured password never matches,
 * and a configuration without an admin password, or with read = admin, is refused at load.
 */
import { hash, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { findOperation } from '../../api/operations.js';
import type { HandyRepConfig } from '../../config/schema.js';
import { nameSchema } from '../../config/validators.js';
import type { AuthPlugin, AuthRequest, AuthOutcome } from '../types.js';
import type { ConfigCheckedPlugin } from '../config-check.js';

const PLUGIN = 'simple_password_auth';

const settingsSchema = z
  .object({
    ro_function_list: z
      .array(nameSchema)
      .nullable()
      .default(null)
      .describe('Functions the read password may call; null = those whose access is "read" in the operations table.'),
  })
  .strict();

type Settings = z.output<typeof settingsSchema>;

/** Parsed settings per (frozen, replaced on reload) settings object, so requests do not re-parse. */
const parsedSettings = new WeakMap<object, Settings>();

/** Stands for "no settings given", so that case is parsed once too. */
const NO_SETTINGS = Object.freeze({});

function settingsOf(config: Readonly<HandyRepConfig>): Settings {
  const raw = config.plugins[PLUGIN] ?? NO_SETTINGS;
  let parsed = parsedSettings.get(raw);
  if (!parsed) {
    // checkConfig refused bad settings at load, so this parse only fails if that was bypassed.
    parsed = settingsSchema.parse(raw);
    parsedSettings.set(raw, parsed);
  }
  return parsed;
}

function digest(text: string): Buffer {
  // The one-shot hash: a third of createHash's cost, and it runs on every authenticated request.
  return hash('sha256', text, 'buffer');
}

/** Constant-time comparison of digests; an empty expected password (not configured) never matches. */
function digestMatches(given: Buffer, expected: Buffer, expectedText: string): boolean {
  // Comparing digests keeps the comparison constant-time even when the lengths differ.
  return timingSafeEqual(given, expected) && expectedText !== '';
}

/** Constant-time password check; an empty expected password (not configured) never matches. */
export function passwordMatches(given: string, expected: string): boolean {
  return digestMatches(digest(given), digest(expected), expected);
}

/**
 * Per passwords section (frozen, replaced on reload): the digests of the configured passwords,
 * and which of them each given password was found equal to. Only exact matches are recorded, so
 * `matched` holds at most the two configured passwords, and a client that sends the same
 * credentials on every request costs no hash.
 */
interface KnownPasswords {
  admin: Buffer;
  read: Buffer;
  matched: Map<string, 'admin' | 'read'>;
}

const knownBySection = new WeakMap<object, KnownPasswords>();

function knownPasswords(passwords: Readonly<HandyRepConfig['passwords']>): KnownPasswords {
  let known = knownBySection.get(passwords);
  if (!known) {
    known = { admin: digest(passwords.admin_password), read: digest(passwords.read_password), matched: new Map() };
    knownBySection.set(passwords, known);
  }
  return known;
}

function whichPassword(passwords: Readonly<HandyRepConfig['passwords']>, password: string): 'admin' | 'read' | null {
  const known = knownPasswords(passwords);
  const hit = known.matched.get(password);
  if (hit) return hit;
  // Both comparisons always run, so the time taken does not tell which password was close.
  const given = digest(password);
  const isAdmin = digestMatches(given, known.admin, passwords.admin_password);
  const isRead = digestMatches(given, known.read, passwords.read_password);
  const which = isAdmin ? 'admin' : isRead ? 'read' : null;
  if (which) known.matched.set(password, which);
  return which;
}

/** The decision, from the configuration and the request alone. */
export function decideSimplePassword(config: Readonly<HandyRepConfig>, request: AuthRequest): AuthOutcome {
  if (request.password === null) return { ok: false, status: 401, reason: 'credentials required' };
  const which = whichPassword(config.passwords, request.password);
  if (which === 'admin') return { ok: true, user: 'admin' };
  if (which === null) return { ok: false, status: 401, reason: 'password rejected' };
  const list = settingsOf(config).ro_function_list;
  const allowed = list === null ? request.access === 'read' : list.includes(request.functionName);
  return allowed ? { ok: true, user: 'read' } : { ok: false, status: 403, reason: `${request.functionName} requires the admin password` };
}

/** Problems of a configuration for this plugin, as `<key path>: <reason>` lines. */
export function simplePasswordConfigProblems(config: Readonly<HandyRepConfig>): string[] {
  const problems: string[] = [];
  const { admin_password: admin, read_password: read } = config.passwords;
  if (admin === '') problems.push(`passwords.admin_password: ${PLUGIN} needs a non-empty admin password`);
  if (admin !== '' && read === admin) {
    problems.push('passwords.read_password: equals admin_password, so the read password would give admin access');
  }
  const parsed = settingsSchema.safeParse(config.plugins[PLUGIN] ?? {});
  if (!parsed.success) {
    for (const issue of parsed.error.issues) problems.push(`plugins.${PLUGIN}.${issue.path.join('.')}: ${issue.message}`);
  } else {
    for (const name of parsed.data.ro_function_list ?? []) {
      if (!findOperation(name)?.web) problems.push(`plugins.${PLUGIN}.ro_function_list: no web API function named "${name}"`);
    }
  }
  return problems;
}

/** The plugin object registered as a built-in. */
export const simplePasswordAuth: AuthPlugin & ConfigCheckedPlugin = {
  name: PLUGIN,
  kind: 'auth',
  description: 'HTTP Basic with an admin password (every function) and a read password (read-only functions).',
  async authenticate(ctx, request) {
    return decideSimplePassword(ctx.config, request);
  },
  checkConfig: simplePasswordConfigProblems,
};
