/**
 * gRPC's length-prefixed messages over HTTP/2 (1 byte "compressed" flag, 4 bytes big-endian
 * length, the message) and the status a call ends with (`grpc-status`, `grpc-message`, in the
 * trailers or in a trailers-only response's headers).
 */

/** Frames one uncompressed message. */
export function grpcFrame(message: Buffer): Buffer {
  const framed = Buffer.allocUnsafe(5 + message.length);
  framed[0] = 0;
  framed.writeUInt32BE(message.length, 1);
  message.copy(framed, 5);
  return framed;
}

/** Messages larger than this are refused (the hot path's replies are a few hundred bytes). */
export const MAX_MESSAGE_BYTES = 4 * 1024 * 1024;

/** Cuts a stream's DATA chunks into messages (a chunk may hold part of one, or several). */
export class FrameDecoder {
  #pending: Buffer | null = null;

  /** The messages completed by `chunk`; throws on a compressed or oversized message. */
  push(chunk: Buffer): Buffer[] {
    let buf = this.#pending === null ? chunk : Buffer.concat([this.#pending, chunk]);
    const messages: Buffer[] = [];
    while (buf.length >= 5) {
      if (buf[0] !== 0) throw new Error('gRPC: compressed message (none was asked for)');
      const length = buf.readUInt32BE(1);
      if (length > MAX_MESSAGE_BYTES) throw new Error(`gRPC: message of ${length} bytes (more than ${MAX_MESSAGE_BYTES})`);
      if (buf.length < 5 + length) break;
      messages.push(buf.subarray(5, 5 + length));
      buf = buf.subarray(5 + length);
    }
    this.#pending = buf.length === 0 ? null : buf;
    return messages;
  }

  /** Bytes of a message begun but not completed (a stream that ends with some is broken). */
  get partial(): boolean {
    return this.#pending !== null;
  }
}

/** gRPC status codes the hot path tells apart. */
export const GRPC_OK = 0;
export const GRPC_UNAUTHENTICATED = 16;

/**
 * Codes meaning "this member cannot answer now" (no leader, stopping, overloaded, the call cut
 * off): the call goes to the next endpoint. Any other code is etcd's answer to the request itself
 * (a lease not found, permission denied, a malformed request): another member would say the same.
 */
const MEMBER_FAULT_CODES = new Set([1, 2, 4, 8, 10, 13, 14, 15]);

export interface GrpcStatus {
  readonly code: number;
  readonly message: string;
}

/**
 * A call's header blocks as they come: the first is the response, which must say `:status` 200;
 * a later one is the trailers (they carry no `:status`). The gRPC status may be in either (a
 * trailers-only response puts it in the first).
 */
export class CallHeaders {
  #responded = false;
  /** The last gRPC status seen; null until one came. */
  status: GrpcStatus | null = null;

  /** Takes one block; returns why the response is not a gRPC answer (HTTP status other than 200), or null. */
  take(fields: Record<string, string | string[] | undefined>): string | null {
    this.status = statusOf(fields) ?? this.status;
    if (this.#responded) return null;
    this.#responded = true;
    return fields[':status'] === '200' ? null : `answered HTTP ${String(fields[':status'] ?? '(no status)')}`;
  }
}

/** The status in a header block, or null when it carries none. */
export function statusOf(headers: Record<string, string | string[] | undefined>): GrpcStatus | null {
  const raw = headers['grpc-status'];
  if (raw === undefined) return null;
  const text = String(Array.isArray(raw) ? raw[0] : raw);
  const message = headers['grpc-message'];
  const decoded = message === undefined ? '' : decodeGrpcMessage(Array.isArray(message) ? (message[0] ?? '') : message);
  // Only digits are a code ('' would read as 0 = OK); anything else is UNKNOWN (2).
  return { code: /^\d+$/.test(text) ? Number(text) : 2, message: decoded };
}

/** grpc-message is percent-encoded. */
function decodeGrpcMessage(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

export type StatusVerdict = 'ok' | 'member_fault' | 'token_invalid' | 'refused';

/** What a call's final status means for the caller (see MEMBER_FAULT_CODES). */
export function judgeStatus(status: GrpcStatus): StatusVerdict {
  if (status.code === GRPC_OK) return 'ok';
  // etcd says so for an expired simple token or one a restarted member does not know.
  // "revision of auth store is old": the token predates an auth change (JWT carries its revision);
  // etcd's Go client takes a new token for it too.
  if (status.code === GRPC_UNAUTHENTICATED || /invalid auth token|revision of auth store is old/.test(status.message)) return 'token_invalid';
  if (MEMBER_FAULT_CODES.has(status.code) || /no leader|not leader|leader changed|not capable/.test(status.message)) return 'member_fault';
  return 'refused';
}
