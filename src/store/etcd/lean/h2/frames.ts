/**
 * HTTP/2 frames (RFC 9113 §4, §6) as the lean client's session needs them: the 9-byte header, the
 * frames it sends, and a reader that cuts the socket's bytes into frames (a read may hold part of
 * one, or several).
 */

export const FRAME = {
  DATA: 0x0,
  HEADERS: 0x1,
  PRIORITY: 0x2,
  RST_STREAM: 0x3,
  SETTINGS: 0x4,
  PUSH_PROMISE: 0x5,
  PING: 0x6,
  GOAWAY: 0x7,
  WINDOW_UPDATE: 0x8,
  CONTINUATION: 0x9,
} as const;

export const FLAG = {
  END_STREAM: 0x1,
  ACK: 0x1,
  END_HEADERS: 0x4,
  PADDED: 0x8,
  PRIORITY: 0x20,
} as const;

export const SETTING = {
  HEADER_TABLE_SIZE: 0x1,
  ENABLE_PUSH: 0x2,
  MAX_CONCURRENT_STREAMS: 0x3,
  INITIAL_WINDOW_SIZE: 0x4,
  MAX_FRAME_SIZE: 0x5,
  MAX_HEADER_LIST_SIZE: 0x6,
} as const;

/** Error codes (RFC 9113 §7), by number, for messages. */
const ERROR_NAMES = [
  'NO_ERROR',
  'PROTOCOL_ERROR',
  'INTERNAL_ERROR',
  'FLOW_CONTROL_ERROR',
  'SETTINGS_TIMEOUT',
  'STREAM_CLOSED',
  'FRAME_SIZE_ERROR',
  'REFUSED_STREAM',
  'CANCEL',
  'COMPRESSION_ERROR',
  'CONNECT_ERROR',
  'ENHANCE_YOUR_CALM',
  'INADEQUATE_SECURITY',
  'HTTP_1_1_REQUIRED',
];
export const ERROR = { PROTOCOL_ERROR: 0x1, INTERNAL_ERROR: 0x2, FLOW_CONTROL_ERROR: 0x3, FRAME_SIZE_ERROR: 0x6, CANCEL: 0x8, COMPRESSION_ERROR: 0x9, ENHANCE_YOUR_CALM: 0xb } as const;

export function errorName(code: number): string {
  return ERROR_NAMES[code] ?? `error code ${code}`;
}

export const CONNECTION_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
export const DEFAULT_MAX_FRAME_SIZE = 16_384;
export const DEFAULT_WINDOW = 65_535;
/** The largest window and stream id HTTP/2 allows (31 bits). */
export const MAX_31_BIT = 0x7fff_ffff;

/** One frame: the 9-byte header, then `payload`. */
export function frame(type: number, flags: number, streamId: number, payload: Buffer | null): Buffer {
  const length = payload === null ? 0 : payload.length;
  const out = Buffer.allocUnsafe(9 + length);
  out.writeUIntBE(length, 0, 3);
  out[3] = type;
  out[4] = flags;
  out.writeUInt32BE(streamId & MAX_31_BIT, 5);
  if (payload !== null) payload.copy(out, 9);
  return out;
}

export function settingsFrame(settings: ReadonlyArray<readonly [number, number]>): Buffer {
  const payload = Buffer.allocUnsafe(6 * settings.length);
  settings.forEach(([id, value], i) => {
    payload.writeUInt16BE(id, 6 * i);
    payload.writeUInt32BE(value, 6 * i + 2);
  });
  return frame(FRAME.SETTINGS, 0, 0, payload);
}

export function windowUpdateFrame(streamId: number, increment: number): Buffer {
  const payload = Buffer.allocUnsafe(4);
  payload.writeUInt32BE(increment & MAX_31_BIT, 0);
  return frame(FRAME.WINDOW_UPDATE, 0, streamId, payload);
}

export function rstStreamFrame(streamId: number, code: number): Buffer {
  const payload = Buffer.allocUnsafe(4);
  payload.writeUInt32BE(code, 0);
  return frame(FRAME.RST_STREAM, 0, streamId, payload);
}

export function goawayFrame(lastStreamId: number, code: number): Buffer {
  const payload = Buffer.allocUnsafe(8);
  payload.writeUInt32BE(lastStreamId & MAX_31_BIT, 0);
  payload.writeUInt32BE(code, 4);
  return frame(FRAME.GOAWAY, 0, 0, payload);
}

/**
 * A frame as read: `payload` is a view into the socket's chunk (or a copy joining two chunks).
 * Node never reuses a chunk it handed out, so views kept past the callback (a reply message, a
 * gRPC decoder's partial message) stay valid; keep it that way if reads ever use a pooled buffer.
 */
export interface Frame {
  readonly type: number;
  readonly flags: number;
  readonly streamId: number;
  readonly payload: Buffer;
}

/** A protocol violation by the peer: the connection is dropped (a connection error). */
export class H2ProtocolError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

/** Cuts bytes into frames; a frame longer than `maxFrameSize` (what we allowed) is a FRAME_SIZE_ERROR. */
export class FrameReader {
  #pending: Buffer | null = null;

  constructor(private readonly maxFrameSize: number) {}

  /** Calls `each` for every frame completed by `chunk`, in order. */
  push(chunk: Buffer, each: (frame: Frame) => void): void {
    let buf = this.#pending === null ? chunk : Buffer.concat([this.#pending, chunk]);
    this.#pending = null;
    let at = 0;
    while (buf.length - at >= 9) {
      const length = buf.readUIntBE(at, 3);
      if (length > this.maxFrameSize) throw new H2ProtocolError(ERROR.FRAME_SIZE_ERROR, `a frame of ${length} bytes (more than the ${this.maxFrameSize} allowed)`);
      if (buf.length - at < 9 + length) break;
      const type = buf[at + 3] as number;
      const flags = buf[at + 4] as number;
      const streamId = buf.readUInt32BE(at + 5) & MAX_31_BIT;
      const payload = buf.subarray(at + 9, at + 9 + length);
      at += 9 + length;
      each({ type, flags, streamId, payload });
    }
    if (at < buf.length) this.#pending = Buffer.from(buf.subarray(at));
  }
}

/** The payload of a DATA or HEADERS frame without its padding (and a HEADERS frame's priority fields). */
export function unpadded(f: Frame): Buffer {
  let start = 0;
  let end = f.payload.length;
  if ((f.flags & FLAG.PADDED) !== 0) {
    if (end < 1) throw new H2ProtocolError(ERROR.PROTOCOL_ERROR, 'a padded frame without its pad length');
    const pad = f.payload[0] as number;
    start = 1;
    end -= pad;
  }
  if (f.type === FRAME.HEADERS && (f.flags & FLAG.PRIORITY) !== 0) start += 5;
  if (end < start) throw new H2ProtocolError(ERROR.PROTOCOL_ERROR, 'a frame whose padding or priority fields exceed its length');
  return f.payload.subarray(start, end);
}
