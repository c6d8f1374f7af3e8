/**
 * Where the CLI finds the daemon and its credentials. Each of url, user and password comes from
 * the first place that sets it: a flag (`--url`, `--user`, `--password`), the environment
 * (`HANDYREP_URL`, `HANDYREP_USER`, `HANDYREP_PASSWORD`), the client configuration file
 * (`--client-config <file>`, else `$XDG_CONFIG_HOME/handyrep/client.yaml`, i.e.
 * `~/.config/handyrep/client.yaml`; keys url, user, password), else the defaults
 * (`http://127.0.0.1:8080`, user `handyrep`, no password).
 */
import { readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { usageError } from './cli-error.js';

export const DEFAULT_URL = 'http://127.0.0.1:8080';
export const DEFAULT_USER = 'handyrep';

export interface ClientFlags {
  url?: string | undefined;
  user?: string | undefined;
  password?: string | undefined;
  clientConfig?: string | undefined;
}

export interface ClientSettings {
  /** Base URL without a trailing slash. */
  url: string;
  user: string;
  password: string | null;
  /** The client configuration file that was read, if any. */
  configFile: string | null;
  /** Warnings to print (e.g. a password file others can read). */
  warnings: string[];
}

const CONFIG_KEYS = new Set(['url', 'user', 'password']);

/** The default client configuration file. */
export function defaultClientConfigPath(env: NodeJS.ProcessEnv): string {
  const base = env['XDG_CONFIG_HOME'] || join(env['HOME'] || homedir(), '.config');
  return join(base, 'handyrep', 'client.yaml');
}

interface FileSettings {
  url?: string;
  user?: string;
  password?: string;
}

function readClientConfig(path: string, explicit: boolean, warnings: string[]): FileSettings | null {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if (!explicit && (err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw usageError(`client configuration ${path}: cannot read it: ${(err as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (err) {
    throw usageError(`client configuration ${path}: not valid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== 'object' || Array.isArray(doc)) throw usageError(`client configuration ${path}: expected a mapping with url, user, password`);
  const settings: FileSettings = {};
  for (const [key, value] of Object.entries(doc)) {
    if (!CONFIG_KEYS.has(key)) throw usageError(`client configuration ${path}: unknown key "${key}" (keys: url, user, password)`);
    if (typeof value !== 'string' && typeof value !== 'number') throw usageError(`client configuration ${path}: ${key} must be a string`);
    settings[key as keyof FileSettings] = String(value);
  }
  if (settings.password !== undefined) {
    try {
      if ((statSync(path).mode & 0o077) !== 0) warnings.push(`warning: ${path} holds a password and others may read it (chmod 600 ${path})`);
    } catch {
      // Unreadable mode: no warning.
    }
  }
  return settings;
}

/** Check and normalise a daemon URL. */
export function normaliseUrl(raw: string, from: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw usageError(`${from}: "${raw}" is not a URL (e.g. http://127.0.0.1:8080)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw usageError(`${from}: "${raw}" is not an http:// or https:// URL`);
  if (url.username || url.password) throw usageError(`${from}: put credentials in --user/--password or HANDYREP_PASSWORD, not in the URL`);
  if (url.search || url.hash) throw usageError(`${from}: "${raw}" must not have a query string or fragment`);
  return url.href.replace(/\/+$/, '');
}

/** Resolve url, user and password (see the file comment for the order). */
export function resolveClientSettings(flags: ClientFlags, env: NodeJS.ProcessEnv): ClientSettings {
  const warnings: string[] = [];
  const explicit = flags.clientConfig ?? env['HANDYREP_CLIENT_CONFIG'];
  const path = explicit ?? defaultClientConfigPath(env);
  const file = readClientConfig(path, explicit !== undefined, warnings) ?? null;
  const pick = (flag: string | undefined, envName: string, key: keyof FileSettings): { value: string; from: string } | null => {
    if (flag !== undefined) return { value: flag, from: `--${key}` };
    const fromEnv = env[envName];
    if (fromEnv !== undefined && fromEnv !== '') return { value: fromEnv, from: envName };
    const fromFile = file?.[key];
    if (fromFile !== undefined) return { value: fromFile, from: `${path}: ${key}` };
    return null;
  };
  const url = pick(flags.url, 'HANDYREP_URL', 'url');
  const user = pick(flags.user, 'HANDYREP_USER', 'user');
  const password = pick(flags.password, 'HANDYREP_PASSWORD', 'password');
  return {
    url: url ? normaliseUrl(url.value, url.from) : DEFAULT_URL,
    user: user?.value ?? DEFAULT_USER,
    password: password?.value ?? null,
    configFile: file ? path : null,
    warnings,
  };
}
