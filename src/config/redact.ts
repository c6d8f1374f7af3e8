/**
 * Redaction of secrets. Which settings hold secrets is declared in the schema (setting-marks.ts:
 * the passwords section, commands' parameters, URLs, and in the free-form plugin settings every
 * key named like a password, token, key, header or environment), and read here, so any copy of
 * the configuration that leaves the process (get_setting, the handyrep table) goes through
 * `redactConfig`, and every text that leaves it (log lines, API replies) is masked with
 * `secretStrings`.
 */
import { matchPattern, secretSettings, underPattern } from './marked-settings.js';
import type { HandyRepConfig } from './schema.js';
import { SECRET_NAME_PATTERN, URL_NAME_PATTERN, type SecretMark } from './setting-marks.js';

/** What a non-empty secret is replaced with. */
export const REDACTED = '********';

/** Pieces of a secret shorter than this are not masked on their own inside texts (too common). */
const MIN_PIECE_CHARS = 8;

/** True when a key path (`['passwords', 'superuser_pass']`, or the section itself) names a password. */
export function isPasswordPath(path: readonly PropertyKey[]): boolean {
  return path[0] === 'passwords';
}

/** True when the value at `path` is, or lies inside, a secret setting (so it is never shown). */
export function isSecretPath(path: readonly PropertyKey[]): boolean {
  for (const { pattern, mark } of secretSettings()) {
    if (!underPattern(path, pattern)) continue;
    if (mark !== 'by-name') return true;
    return path.slice(pattern.length).some((key) => typeof key === 'string' && judgeKey(key) !== null);
  }
  return false;
}

/**
 * A deep copy of `config` with every secret hidden. Empty strings stay empty, so a reader can
 * still tell "not set" from "set". The input is not modified.
 */
export function redactConfig(config: HandyRepConfig): HandyRepConfig {
  const copy = structuredClone(config) as HandyRepConfig;
  for (const { pattern, mark } of secretSettings()) {
    for (const found of matchPattern(copy, pattern)) setAt(copy, found.path, redactValue(found.value, mark));
  }
  return copy;
}

/** The value with its secrets hidden, as `mark` says. */
export function redactValue(value: unknown, mark: SecretMark): unknown {
  if (mark === 'by-name') return redactByName(value);
  if (typeof value === 'string') return value === '' ? '' : mark === 'url' ? redactUrl(value) : REDACTED;
  if (Array.isArray(value)) return value.map((v) => redactValue(v, mark));
  if (isRecord(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redactValue(v, mark)]));
  return value === null || value === undefined ? value : REDACTED;
}

/**
 * Every secret string of the configuration, longest first, with the pieces a text may quote on
 * their own (a URL's password, path and query; each long word of a header such as `Bearer x`).
 */
export function secretStrings(config: HandyRepConfig): string[] {
  const found = new Set<string>();
  for (const { pattern, mark } of secretSettings()) {
    for (const match of matchPattern(config, pattern)) collectSecrets(match.value, mark, found);
  }
  return [...found].filter((s) => s !== '').sort((a, b) => b.length - a.length);
}

/** `text` with every secret replaced by REDACTED. */
export function maskText(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) if (out.includes(s)) out = out.split(s).join(REDACTED);
  return out;
}

/**
 * A copy of any JSON-like value with every secret inside its strings masked. Keys are names and
 * stay. With `textOnly`, only strings with a space (messages) are masked: names, hostnames and
 * paths never have one, so saved state stays loadable even if a weak password equals a name.
 */
export function maskDeep<T>(value: T, secrets: readonly string[], textOnly = false): T {
  if (secrets.length === 0) return value;
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') return textOnly && !/\s/.test(v) ? v : maskText(v, secrets);
    if (Array.isArray(v)) return v.map(walk);
    if (isRecord(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
    return v;
  };
  return walk(value) as T;
}

/** How a free-form key's value is hidden, by the key's name; null = not a secret by name. */
function judgeKey(key: string): SecretMark | null {
  if (URL_NAME_PATTERN.test(key)) return 'url';
  if (SECRET_NAME_PATTERN.test(key)) return 'value';
  return null;
}

function redactByName(value: unknown): unknown {
  if (typeof value === 'string') return hasCredentials(value) ? redactUrl(value) : value;
  if (Array.isArray(value)) return value.map(redactByName);
  if (!isRecord(value)) return value;
  return Object.fromEntries(
    Object.entries(value).map(([k, v]) => {
      const mark = judgeKey(k);
      return [k, mark === null ? redactByName(v) : redactValue(v, mark)];
    }),
  );
}

/** Only the scheme and host of a URL stay; its user, password, path and query may be the secret. */
function redactUrl(text: string): string {
  if (!URL.canParse(text)) return REDACTED;
  const url = new URL(text);
  const rest = `${url.username}${url.password}${url.pathname === '/' ? '' : url.pathname}${url.search}${url.hash}`;
  return rest === '' ? `${url.protocol}//${url.host}` : `${url.protocol}//${url.host}/${REDACTED}`;
}

function hasCredentials(text: string): boolean {
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(text) || !URL.canParse(text)) return false;
  const url = new URL(text);
  return url.username !== '' || url.password !== '';
}

function collectSecrets(value: unknown, mark: SecretMark, into: Set<string>, inList = false): void {
  if (mark === 'by-name') {
    if (typeof value === 'string' && hasCredentials(value)) collectSecrets(value, 'url', into);
    else if (Array.isArray(value)) for (const v of value) collectSecrets(v, 'by-name', into);
    else if (isRecord(value)) for (const [k, v] of Object.entries(value)) collectSecrets(v, judgeKey(k) ?? 'by-name', into);
    return;
  }
  if (Array.isArray(value)) for (const v of value) collectSecrets(v, mark, into, true);
  else if (isRecord(value)) for (const v of Object.values(value)) collectSecrets(v, mark, into);
  else if (typeof value === 'string' && value !== '') addSecretText(value, inList, into);
}

/**
 * A secret string and the pieces of it a message may quote alone. An argument of a command list
 * is masked in texts only when long (a short one is more likely `-H` or `postgres` than a key;
 * the whole list is still hidden in every copy of the configuration).
 */
function addSecretText(text: string, inList: boolean, into: Set<string>): void {
  if (!inList || text.length >= MIN_PIECE_CHARS) into.add(text);
  const credential = /^(?:[\w-]+\s*[:=]\s*)?(?:bearer|basic|token|digest)?\s*(\S+)$/i.exec(text)?.[1];
  if (credential !== undefined && credential.length >= MIN_PIECE_CHARS) into.add(credential);
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(text) && URL.canParse(text)) {
    const url = new URL(text);
    for (const piece of [url.password, decodeURIComponent(url.password), `${url.pathname}${url.search}`, url.search.slice(1)]) {
      if (piece.length >= MIN_PIECE_CHARS) into.add(piece);
    }
  }
}

function setAt(root: unknown, path: readonly string[], value: unknown): void {
  let node = root as Record<string, unknown>;
  for (const key of path.slice(0, -1)) node = node[key] as Record<string, unknown>;
  const last = path[path.length - 1];
  if (last === undefined) return;
  node[last] = value;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
