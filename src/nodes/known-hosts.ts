/**
 * OpenSSH known_hosts files: parsing, host-key verdicts, recording new keys. Kept compatible with
 * OpenSSH so an operator can pre-fill the file with `ssh-keyscan` (plain or `-H` hashed) and
 * inspect or fix what HandyRep recorded with the usual tools (`ssh-keygen -R`).
 */
import { createHmac } from 'node:crypto';
import { appendFile, mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';

/** How unknown and changed host keys are treated. */
export type HostKeyChecking = 'strict' | 'accept-new' | 'off';

/** One key line of a known_hosts file. */
export interface KnownHostEntry {
  /** `@revoked` / `@cert-authority` marker, or none. */
  marker: 'none' | 'revoked' | 'cert-authority';
  /** Comma-separated host patterns of the line (or one `|1|salt|hash` hashed name). */
  patterns: string[];
  keyType: string;
  keyBase64: string;
}

/** Result of checking a presented host key against the file. */
export type HostKeyVerdict = 'match' | 'unknown' | 'mismatch' | 'revoked';

/** The name OpenSSH files a host under: `host` for port 22, `[host]:port` otherwise. */
export function knownHostsName(host: string, port: number): string {
  return port === 22 ? host.toLowerCase() : `[${host.toLowerCase()}]:${port}`;
}

/** Parses known_hosts text; comments, blank and malformed lines are skipped. */
export function parseKnownHosts(text: string): KnownHostEntry[] {
  const entries: KnownHostEntry[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const fields = line.split(/\s+/);
    let marker: KnownHostEntry['marker'] = 'none';
    if (fields[0] === '@revoked' || fields[0] === '@cert-authority') {
      marker = fields[0] === '@revoked' ? 'revoked' : 'cert-authority';
      fields.shift();
    } else if (fields[0]?.startsWith('@')) {
      continue;
    }
    const [patterns, keyType, keyBase64] = fields;
    if (!patterns || !keyType || !keyBase64) continue;
    entries.push({ marker, patterns: patterns.split(','), keyType, keyBase64 });
  }
  return entries;
}

/** One line recording `keyType keyBase64` for host:port, newline-terminated. */
export function formatKnownHostsLine(host: string, port: number, keyType: string, keyBase64: string): string {
  return `${knownHostsName(host, port)} ${keyType} ${keyBase64}\n`;
}

/** Whether an entry's host patterns cover `name` (OpenSSH semantics: any negated match excludes). */
export function entryMatchesHost(entry: KnownHostEntry, name: string): boolean {
  let matched = false;
  for (const pattern of entry.patterns) {
    if (pattern.startsWith('|1|')) {
      if (hashedNameMatches(pattern, name)) matched = true;
      continue;
    }
    const negated = pattern.startsWith('!');
    const body = (negated ? pattern.slice(1) : pattern).toLowerCase();
    if (globMatches(body, name)) {
      if (negated) return false;
      matched = true;
    }
  }
  return matched;
}

/**
 * Verdict for the key `keyType keyBase64` presented by host:port. A different key of the *same*
 * type is a mismatch (possible impersonation); a host known only under other key types is
 * `unknown` for this type, as in OpenSSH.
 */
export function checkHostKey(
  entries: readonly KnownHostEntry[],
  host: string,
  port: number,
  keyType: string,
  keyBase64: string,
): HostKeyVerdict {
  if (entries.some((e) => e.marker === 'revoked' && e.keyBase64 === keyBase64)) return 'revoked';
  const name = knownHostsName(host, port);
  const forHost = entries.filter((e) => e.marker === 'none' && entryMatchesHost(e, name));
  if (forHost.some((e) => e.keyType === keyType && e.keyBase64 === keyBase64)) return 'match';
  if (forHost.some((e) => e.keyType === keyType)) return 'mismatch';
  return 'unknown';
}

/** Key types recorded for host:port, in file order (used to prefer those in the handshake). */
export function knownKeyTypes(entries: readonly KnownHostEntry[], host: string, port: number): string[] {
  const name = knownHostsName(host, port);
  const types = entries.filter((e) => e.marker === 'none' && entryMatchesHost(e, name)).map((e) => e.keyType);
  return [...new Set(types)];
}

/** The key type named inside an SSH public key blob (its first length-prefixed string). */
export function keyTypeOfBlob(blob: Buffer): string {
  if (blob.length < 4) return '';
  const length = blob.readUInt32BE(0);
  if (length > blob.length - 4) return '';
  return blob.subarray(4, 4 + length).toString('latin1');
}

/** Reads and parses a known_hosts file; a missing file is an empty one. */
export async function readKnownHosts(path: string): Promise<KnownHostEntry[]> {
  try {
    return parseKnownHosts(await readFile(path, 'utf8'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

/** Appends per path are chained so concurrent first connections cannot interleave lines. */
const pendingWrites = new Map<string, Promise<void>>();

/** Appends a host key line unless the file already has exactly that key for the host. */
export function recordHostKey(path: string, host: string, port: number, keyType: string, keyBase64: string): Promise<void> {
  const previous = pendingWrites.get(path) ?? Promise.resolve();
  const next = previous
    .catch(() => undefined)
    .then(async () => {
      let text = '';
      try {
        text = await readFile(path, 'utf8');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        await mkdir(dirname(path), { recursive: true });
      }
      if (checkHostKey(parseKnownHosts(text), host, port, keyType, keyBase64) === 'match') return;
      const separator = text === '' || text.endsWith('\n') ? '' : '\n';
      await appendFile(path, separator + formatKnownHostsLine(host, port, keyType, keyBase64), { mode: 0o644 });
    });
  pendingWrites.set(path, next);
  void next.finally(() => {
    if (pendingWrites.get(path) === next) pendingWrites.delete(path);
  }).catch(() => undefined);
  return next;
}

/** `|1|base64(salt)|base64(hmac-sha1(salt, name))`, as written by `ssh-keygen -H`. */
function hashedNameMatches(pattern: string, name: string): boolean {
  const [, , salt, hash] = pattern.split('|');
  if (!salt || !hash) return false;
  const digest = createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest('base64');
  return digest === hash;
}

/** OpenSSH host pattern match: `*` any run, `?` one character; whole string, case already folded. */
function globMatches(pattern: string, text: string): boolean {
  const regex = new RegExp(
    `^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replaceAll('*', '.*').replaceAll('?', '.')}$`,
    's',
  );
  return regex.test(text);
}
