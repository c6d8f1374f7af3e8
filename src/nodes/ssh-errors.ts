/**
 * Classification of SSH connection failures. Callers need to tell "host down" (refused) from
 * "host lost" (timeout) from "misconfigured" (auth, host key) without parsing messages.
 */
import { describeError, HandyRepError } from '../model/errors.js';

/** Why an SSH connection could not be used. */
export type SshFailureKind =
  /** TCP refused: the host answers but no sshd listens. */
  | 'refused'
  /** No answer within the connect timeout (host lost, partition, frozen). */
  | 'timeout'
  /** The server refused our key, or the key file cannot be read. */
  | 'auth'
  /** The host key is unknown (strict), changed, or revoked. */
  | 'host-key'
  /** Anything else (DNS, unreachable network, protocol error, connection dropped). */
  | 'other';

/** A CONTROL_CHANNEL error that also says which kind of connection failure it was. */
export class SshConnectError extends HandyRepError {
  constructor(
    readonly kind: SshFailureKind,
    message: string,
    options?: { cause?: unknown },
  ) {
    super('CONTROL_CHANNEL', message, options);
  }
}

/** ssh2 tags its errors with a `level`; sockets with an errno `code`. */
interface TaggedError {
  code?: unknown;
  level?: unknown;
  message?: unknown;
}

/** Maps an ssh2/socket error to a failure kind (host-key refusals are detected by the verifier, not here). */
export function classifySshError(err: unknown): SshFailureKind {
  const tagged = (typeof err === 'object' && err !== null ? err : {}) as TaggedError;
  const message = typeof tagged.message === 'string' ? tagged.message : '';
  if (tagged.code === 'ECONNREFUSED') return 'refused';
  if (tagged.code === 'ETIMEDOUT' || tagged.code === 'EHOSTUNREACH') return 'timeout';
  if (tagged.level === 'client-timeout' || /timed out/i.test(message)) return 'timeout';
  if (tagged.level === 'client-authentication') return 'auth';
  return 'other';
}

/** Short human reason for a failure kind, followed by the underlying error. */
export function describeSshFailure(kind: SshFailureKind, err: unknown, connectTimeoutMs: number): string {
  const detail = describeError(err);
  switch (kind) {
    case 'refused':
      return `connection refused (no sshd listening): ${detail}`;
    case 'timeout':
      return `connection timed out after ${connectTimeoutMs} ms (host unreachable or not answering): ${detail}`;
    case 'auth':
      return `authentication failed: ${detail}`;
    case 'host-key':
      return detail;
    case 'other':
      return `connection failed: ${detail}`;
  }
}
