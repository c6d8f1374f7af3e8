/**
 * PostgreSQL's frontend/backend protocol 3.0, the part a lean session needs (session.ts): the
 * startup, the password exchanges, one simple query at a time and the end. Pure: bytes in, values
 * out. A backend message is a type byte, a 4-byte big-endian length that counts itself, the body.
 */

/** Refused beyond this (a lean session's answers are a few hundred bytes; a row of facts is small). */
export const MAX_BACKEND_MESSAGE_BYTES = 1024 * 1024;

function cstring(text: string): Buffer {
  return Buffer.from(`${text}\0`, 'utf8');
}

/** A frontend message: type byte (none for the startup), length, body. */
function message(type: string | null, body: Buffer): Buffer {
  const head = type === null ? 4 : 5;
  const out = Buffer.allocUnsafe(head + body.length);
  if (type !== null) out.write(type, 0, 'latin1');
  out.writeInt32BE(4 + body.length, head - 4);
  body.copy(out, head);
  return out;
}

/** StartupMessage for protocol 3.0 with the given parameters (user, database, application_name …). */
export function startupMessage(parameters: Readonly<Record<string, string>>): Buffer {
  const version = Buffer.allocUnsafe(4);
  version.writeInt32BE(196608, 0);
  const pairs = Object.entries(parameters).flatMap(([name, value]) => [cstring(name), cstring(value)]);
  return message(null, Buffer.concat([version, ...pairs, Buffer.from([0])]));
}

/** Query (simple protocol): one statement, text results. */
export function queryMessage(sql: string): Buffer {
  return message('Q', cstring(sql));
}

/** PasswordMessage: a cleartext password or an md5 hash (pg_hba methods password, md5). */
export function passwordMessage(text: string): Buffer {
  return message('p', cstring(text));
}

/** SASLInitialResponse: the mechanism and the client's first message. */
export function saslInitialMessage(mechanism: string, data: string): Buffer {
  const payload = Buffer.from(data, 'utf8');
  const length = Buffer.allocUnsafe(4);
  length.writeInt32BE(payload.length, 0);
  return message('p', Buffer.concat([cstring(mechanism), length, payload]));
}

/** SASLResponse: the client's next message. */
export function saslResponseMessage(data: string): Buffer {
  return message('p', Buffer.from(data, 'utf8'));
}

/** Terminate. */
export function terminateMessage(): Buffer {
  return message('X', Buffer.alloc(0));
}

export interface BackendMessage {
  readonly type: string;
  readonly body: Buffer;
}

/** Cuts the socket's chunks into backend messages (a chunk may hold part of one, or several). */
export class BackendMessageReader {
  #pending: Buffer | null = null;

  /** The messages completed by `chunk`; throws on a length no server sends. */
  push(chunk: Buffer): BackendMessage[] {
    let buf = this.#pending === null ? chunk : Buffer.concat([this.#pending, chunk]);
    const messages: BackendMessage[] = [];
    while (buf.length >= 5) {
      const length = buf.readInt32BE(1);
      if (length < 4 || length > MAX_BACKEND_MESSAGE_BYTES) throw new Error(`PostgreSQL protocol: a message of ${length} bytes`);
      if (buf.length < 1 + length) break;
      messages.push({ type: String.fromCharCode(buf[0] as number), body: buf.subarray(5, 1 + length) });
      buf = buf.subarray(1 + length);
    }
    this.#pending = buf.length === 0 ? null : buf;
    return messages;
  }
}

/** A body read field by field; throws when it ends early (a malformed message). */
class BodyCursor {
  #at = 0;
  constructor(private readonly body: Buffer) {}

  int16(): number {
    this.#need(2);
    const v = this.body.readInt16BE(this.#at);
    this.#at += 2;
    return v;
  }

  int32(): number {
    this.#need(4);
    const v = this.body.readInt32BE(this.#at);
    this.#at += 4;
    return v;
  }

  bytes(n: number): Buffer {
    this.#need(n);
    const v = this.body.subarray(this.#at, this.#at + n);
    this.#at += n;
    return v;
  }

  cstring(): string {
    const end = this.body.indexOf(0, this.#at);
    if (end < 0) throw new Error('PostgreSQL protocol: a string without its terminator');
    const v = this.body.toString('utf8', this.#at, end);
    this.#at = end + 1;
    return v;
  }

  rest(): Buffer {
    return this.body.subarray(this.#at);
  }

  #need(n: number): void {
    if (this.#at + n > this.body.length) throw new Error('PostgreSQL protocol: a message shorter than its fields');
  }
}

/** What an Authentication message ('R') asks for. */
export type AuthRequest =
  | { readonly kind: 'ok' }
  | { readonly kind: 'cleartext' }
  | { readonly kind: 'md5'; readonly salt: Buffer }
  | { readonly kind: 'sasl'; readonly mechanisms: readonly string[] }
  | { readonly kind: 'sasl_continue'; readonly data: string }
  | { readonly kind: 'sasl_final'; readonly data: string }
  | { readonly kind: 'other'; readonly code: number };

export function parseAuthRequest(body: Buffer): AuthRequest {
  const c = new BodyCursor(body);
  const code = c.int32();
  switch (code) {
    case 0:
      return { kind: 'ok' };
    case 3:
      return { kind: 'cleartext' };
    case 5:
      return { kind: 'md5', salt: Buffer.from(c.bytes(4)) };
    case 10: {
      const mechanisms: string[] = [];
      for (let m = c.cstring(); m !== ''; m = c.cstring()) mechanisms.push(m);
      return { kind: 'sasl', mechanisms };
    }
    case 11:
      return { kind: 'sasl_continue', data: c.rest().toString('utf8') };
    case 12:
      return { kind: 'sasl_final', data: c.rest().toString('utf8') };
    default:
      return { kind: 'other', code };
  }
}

/** An ErrorResponse's or NoticeResponse's fields by their one-letter codes (S severity, C SQLSTATE, M message …). */
export function parseErrorFields(body: Buffer): Readonly<Record<string, string>> {
  const c = new BodyCursor(body);
  const fields: Record<string, string> = {};
  for (;;) {
    const code = c.bytes(1)[0] as number;
    if (code === 0) return fields;
    fields[String.fromCharCode(code)] = c.cstring();
  }
}

/** A RowDescription's column names, in order. */
export function parseRowDescription(body: Buffer): string[] {
  const c = new BodyCursor(body);
  const count = c.int16();
  const names: string[] = [];
  for (let i = 0; i < count; i++) {
    names.push(c.cstring());
    c.bytes(18); // table oid, column number, type oid, type length, type modifier, format
  }
  return names;
}

/** A DataRow's values as text (the simple protocol sends text), null for SQL NULL. */
export function parseDataRow(body: Buffer): (string | null)[] {
  // Read in place, no cursor or slice per value: this runs for every row of every round's queries.
  if (body.length < 2) throw new Error('PostgreSQL protocol: a message shorter than its fields');
  const count = body.readInt16BE(0);
  const values: (string | null)[] = [];
  let at = 2;
  for (let i = 0; i < count; i++) {
    if (at + 4 > body.length) throw new Error('PostgreSQL protocol: a message shorter than its fields');
    const length = body.readInt32BE(at);
    at += 4;
    if (length < 0) {
      values.push(null);
      continue;
    }
    if (at + length > body.length) throw new Error('PostgreSQL protocol: a message shorter than its fields');
    values.push(body.toString('utf8', at, at + length));
    at += length;
  }
  return values;
}
