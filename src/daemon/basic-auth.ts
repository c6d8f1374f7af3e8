/** HTTP Basic credentials (RFC 7617) from an Authorization header. */

export interface BasicCredentials {
  username: string;
  password: string;
}

/** The credentials of a `Basic` Authorization header; null when absent or not Basic or malformed. */
export function parseBasicAuth(header: string | undefined): BasicCredentials | null {
  if (header === undefined) return null;
  const match = /^Basic[ \t]+([A-Za-z0-9+/=]{1,4096})[ \t]*$/i.exec(header);
  if (!match) return null;
  const decoded = Buffer.from(match[1] as string, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return null;
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/** The realm clients are challenged with (`WWW-Authenticate: Basic realm="handyrep"`). */
export const BASIC_CHALLENGE = 'Basic realm="handyrep", charset="UTF-8"';
