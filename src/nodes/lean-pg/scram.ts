/**
 * SCRAM-SHA-256 (RFC 5802, RFC 7677) as PostgreSQL runs it, client side, without channel binding
 * (the lean session has no TLS). Pure apart from the key derivation, which runs on libuv's pool
 * (`pbkdf2`, never the synchronous one): a server asking for a huge iteration count must not
 * block the agent's event loop, where its lease's stale timer lives.
 *
 * The password is used as given (no SASLprep), as node-postgres does; PostgreSQL falls back to
 * the raw bytes when a password is not valid for SASLprep, so ASCII passwords always match.
 */
import { createHash, createHmac, pbkdf2, timingSafeEqual } from 'node:crypto';

export const SCRAM_MECHANISM = 'SCRAM-SHA-256';

/** PostgreSQL's default is 4096; more than this is refused rather than spent. */
export const MAX_SCRAM_ITERATIONS = 1_000_000;

export interface ScramFirst {
  /** What the client sends (gs2 header + bare part). */
  readonly message: string;
  /** The bare part, which the proof signs. */
  readonly bare: string;
  readonly nonce: string;
}

/** The client's first message; PostgreSQL takes the user from the startup, so `user` is `*` there. */
export function scramClientFirst(nonce: string, user = '*'): ScramFirst {
  const bare = `n=${user.replaceAll('=', '=3D').replaceAll(',', '=2C')},r=${nonce}`;
  return { message: `n,,${bare}`, bare, nonce };
}

interface ServerFirst {
  readonly nonce: string;
  readonly salt: Buffer;
  readonly iterations: number;
}

/** The server's first message, checked: its nonce extends ours, a salt, a sane iteration count. */
export function parseServerFirst(data: string, clientNonce: string): ServerFirst {
  const attributes = new Map(data.split(',').map((part) => [part.slice(0, 1), part.slice(2)] as const));
  const nonce = attributes.get('r') ?? '';
  const salt = attributes.get('s') ?? '';
  const iterations = Number(attributes.get('i'));
  if (!nonce.startsWith(clientNonce) || nonce.length === clientNonce.length) throw new Error("SCRAM: the server's nonce does not extend the client's");
  if (salt === '' || !/^[A-Za-z0-9+/]+={0,2}$/.test(salt)) throw new Error('SCRAM: the server sent no valid salt');
  if (!Number.isInteger(iterations) || iterations < 1 || iterations > MAX_SCRAM_ITERATIONS) throw new Error(`SCRAM: iteration count ${attributes.get('i') ?? '(none)'} refused (1 to ${MAX_SCRAM_ITERATIONS})`);
  return { nonce, salt: Buffer.from(salt, 'base64'), iterations };
}

const hmac = (key: Buffer, text: string): Buffer => createHmac('sha256', key).update(text).digest();

function saltedPassword(password: string, salt: Buffer, iterations: number): Promise<Buffer> {
  return new Promise((resolve, reject) => pbkdf2(password, salt, iterations, 32, 'sha256', (err, key) => (err ? reject(err) : resolve(key))));
}

export interface ScramFinal {
  readonly message: string;
  /** What the server's final message must carry (`v=`), base64. */
  readonly serverSignature: string;
}

/** The client's final message (with its proof) for the server's first one. */
export async function scramClientFinal(password: string, first: ScramFirst, serverFirstData: string): Promise<ScramFinal> {
  const server = parseServerFirst(serverFirstData, first.nonce);
  const salted = await saltedPassword(password, server.salt, server.iterations);
  const clientKey = hmac(salted, 'Client Key');
  const storedKey = createHash('sha256').update(clientKey).digest();
  // c=biws: base64 of the gs2 header "n,," (no channel binding).
  const withoutProof = `c=biws,r=${server.nonce}`;
  const authMessage = `${first.bare},${serverFirstData},${withoutProof}`;
  const signature = hmac(storedKey, authMessage);
  const proof = Buffer.alloc(clientKey.length);
  for (let i = 0; i < proof.length; i++) proof[i] = (clientKey[i] as number) ^ (signature[i] as number);
  const serverSignature = hmac(hmac(salted, 'Server Key'), authMessage).toString('base64');
  return { message: `${withoutProof},p=${proof.toString('base64')}`, serverSignature };
}

/** Throws unless the server's final message proves it knew the password too (or it reports an error). */
export function checkServerFinal(data: string, expected: ScramFinal): void {
  if (data.startsWith('e=')) throw new Error(`SCRAM: the server refused: ${data.slice(2)}`);
  const got = Buffer.from(data.startsWith('v=') ? data.slice(2).split(',', 1)[0] ?? '' : '', 'base64');
  const want = Buffer.from(expected.serverSignature, 'base64');
  if (got.length !== want.length || !timingSafeEqual(got, want)) throw new Error("SCRAM: the server's signature does not match (not the server that holds this password)");
}
