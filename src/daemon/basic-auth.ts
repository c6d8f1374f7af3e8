/** HTTP Basic credentials (RFC 7617) from an Authorization header. */

export interface BasicCredentials {
  username: string;
  password: string;
}

/** Recently parsed headers: clients send the same one on every request. Cleared when full. */
const parsed = new Map<string, BasicCredentials | null>();
const PARSED_KEPT = 64;
/** Longer headers are parsed every time, so the kept ones stay small. */
const KEPT_LENGTH_MAX = 512;

/** The credentials of a `Basic` Authorization header; null when absent or not Basic or malformed. */
export function parseBasicAuth(header: string | undefined): BasicCredentials | null {
  if (header === undefined) return null;
  const known = parsed.get(header);
  if (known !== undefined) return known;
  const credentials = parseHeader(header);
  if (header.length <= KEPT_LENGTH_MAX) {
    if (parsed.size >= PARSED_KEPT) parsed.clear();
    parsed.set(header, credentials);
  }
  return credentials;
}

function parseHeader(header: string): BasicCredentials | null {
  const match = /^Basic[ \t]+([A-Za-z0-9+/=]{1,4096})[ \t]*$/i.exec(header);
  if (!match) return null;
  const decoded = Buffer.from(match[1] as string, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return null;
  return Object.freeze({ username: decoded.slice(0, colon), password: decoded.slice(colon + 1) });
}

/** The realm clients are challenged with (`WWW-Authenticate: Basic realm="handyrep"`). */
export const BASIC_CHALLENGE = 'Basic realm="handyrep", charset="UTF-8"';
