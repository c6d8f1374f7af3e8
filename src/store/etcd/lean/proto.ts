/**
 * Protobuf wire format for the few etcd messages the agent's hot path sends and reads (messages.ts):
 * varints and length-delimited fields, nothing else.
 * 64-bit integers travel as decimal strings (lease ids and revisions exceed 2^53) and are BigInt
 * while encoded or decoded, never Number. Unknown fields are skipped, as protobuf requires.
 */

const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_BYTES = 2;
const WIRE_FIXED32 = 5;

/** Appends fields to a message; `finish()` gives its bytes. */
export class ProtoWriter {
  readonly #parts: Buffer[] = [];
  #bytes: number[] = [];

  /** An int64/uint64/bool/enum field; zero is left out (proto3 default). */
  varint(field: number, value: bigint | string | number | boolean): this {
    const big = typeof value === 'bigint' ? value : typeof value === 'boolean' ? (value ? 1n : 0n) : BigInt(value);
    if (big === 0n) return this;
    this.#varint(BigInt((field << 3) | WIRE_VARINT));
    // Negative int64 values are sent as their 64-bit two's complement (ten bytes).
    this.#varint(BigInt.asUintN(64, big));
    return this;
  }

  /** A bytes/string/embedded-message field (sent even when empty: a message field's presence matters). */
  bytes(field: number, value: Buffer | string): this {
    const buf = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
    this.#varint(BigInt((field << 3) | WIRE_BYTES));
    this.#varint(BigInt(buf.length));
    this.#flush();
    this.#parts.push(buf);
    return this;
  }

  finish(): Buffer {
    this.#flush();
    return this.#parts.length === 1 ? (this.#parts[0] as Buffer) : Buffer.concat(this.#parts);
  }

  #varint(value: bigint): void {
    let v = value;
    while (v >= 0x80n) {
      this.#bytes.push(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    this.#bytes.push(Number(v));
  }

  #flush(): void {
    if (this.#bytes.length === 0) return;
    this.#parts.push(Buffer.from(this.#bytes));
    this.#bytes = [];
  }
}

/** Reads fields of one message in order; throws on truncated or malformed input. */
export class ProtoReader {
  #pos: number;

  constructor(
    private readonly buf: Buffer,
    start = 0,
    private readonly end = buf.length,
  ) {
    this.#pos = start;
  }

  get done(): boolean {
    return this.#pos >= this.end;
  }

  /** The next field's tag: field number `tag >>> 3`, wire type `tag & 7`. */
  tag(): number {
    const tag = this.varint();
    // Field numbers are 1 … 2^29 − 1: anything else is malformed input, not a field to read.
    if (tag > 0xffffffffn || tag >> 3n === 0n) throw new Error(`protobuf: invalid tag ${tag}`);
    return Number(tag);
  }

  varint(): bigint {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      if (this.#pos >= this.end) throw new Error('protobuf: truncated varint');
      const byte = this.buf[this.#pos++] as number;
      result |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return result;
      shift += 7n;
      if (shift > 63n) throw new Error('protobuf: varint longer than 10 bytes');
    }
  }

  /** A signed int64 field as a decimal string. */
  int64(): string {
    return BigInt.asIntN(64, this.varint()).toString();
  }

  /** A length-delimited field's bytes (a view into the input, not a copy). */
  bytes(): Buffer {
    const length = Number(this.varint());
    const start = this.#pos;
    if (start + length > this.end) throw new Error('protobuf: truncated length-delimited field');
    this.#pos += length;
    return this.buf.subarray(start, start + length);
  }

  skip(tag: number): void {
    const wire = tag & 7;
    if (wire === WIRE_VARINT) this.varint();
    else if (wire === WIRE_BYTES) this.bytes();
    else if (wire === WIRE_FIXED64) this.#advance(8);
    else if (wire === WIRE_FIXED32) this.#advance(4);
    else throw new Error(`protobuf: unsupported wire type ${wire}`);
  }

  #advance(n: number): void {
    if (this.#pos + n > this.end) throw new Error('protobuf: truncated fixed field');
    this.#pos += n;
  }
}
