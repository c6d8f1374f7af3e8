/**
 * HPACK (RFC 7541) for the lean etcd client's hand-framed HTTP/2 session: a complete decoder for
 * the header blocks etcd sends, and an encoder for the few request headers we send that never
 * touches the dynamic table.
 */
import { DynamicTable } from './dynamic-table.js';
import { HpackError } from './hpack-error.js';
import { huffmanDecode, latin1 } from './huffman.js';
import { STATIC_COUNT, STATIC_TABLE } from './static-table.js';

export { HpackError } from './hpack-error.js';

/**
 * Continuation octets an integer may use: 4 carry 28 bits (values below 2^28 + 2^7), more than any
 * index, length or table size we accept, and far from overflowing arithmetic.
 */
const MAX_CONTINUATION_OCTETS = 4;

const NO_BLOCK = Buffer.alloc(0);

// The static table as two flat arrays: one look-up each instead of a pair and an element.
const STATIC_NAMES: readonly string[] = STATIC_TABLE.map(([name]) => name);
const STATIC_VALUES: readonly string[] = STATIC_TABLE.map(([, value]) => value);

/**
 * Decodes the header blocks of one connection, in the order they arrive (the dynamic table is
 * connection state shared by every stream). A block that fails throws HpackError and leaves the
 * decoder unusable: its table may be half-updated and no longer matches the peer's, so every later
 * `decode` throws too and the caller must drop the connection (a COMPRESSION_ERROR).
 */
export class HpackDecoder {
  readonly #table: DynamicTable;
  /** The SETTINGS_HEADER_TABLE_SIZE we advertise: the peer may not set the table above it. */
  readonly #maxTableSize: number;
  readonly #maxHeaderListBytes: number;
  #broken = false;
  // The block being decoded and the read position, as fields so the helpers allocate nothing.
  #buf: Buffer = NO_BLOCK;
  #pos = 0;

  /**
   * `maxTableSize` is the SETTINGS_HEADER_TABLE_SIZE this side advertises (the table starts at
   * that size; keep the protocol's 4096 unless the session also waits for the peer's size update:
   * a peer may fill 4096 octets before it sees a smaller setting). `maxHeaderListBytes` bounds one
   * block's decoded fields, counted as SETTINGS_MAX_HEADER_LIST_SIZE counts them.
   */
  constructor(maxTableSize = 4096, maxHeaderListBytes = 65536) {
    this.#maxTableSize = maxTableSize;
    this.#maxHeaderListBytes = maxHeaderListBytes;
    this.#table = new DynamicTable(maxTableSize);
  }

  /** The header fields of one complete block (HEADERS plus its CONTINUATIONs), names and values as latin1. */
  decode(block: Buffer): Array<[string, string]> {
    if (this.#broken) throw new HpackError('HPACK: decoder unusable after an earlier error');
    this.#broken = true; // cleared only if the whole block decodes
    this.#buf = block;
    this.#pos = 0;
    const headers: Array<[string, string]> = [];
    let listBytes = 0;
    let fieldSeen = false;
    while (this.#pos < block.length) {
      const first = block[this.#pos]!;
      let name: string;
      let value: string;
      if (first >= 0x80) {
        // Indexed header field (§6.1): the steady-state case (a Go peer indexes every response
        // header after first sending it), so a one-octet index is read here, without calls.
        let index = first & 0x7f;
        if (index === 0x7f) index = this.#integer(7);
        else this.#pos++;
        this.#checkIndex(index);
        if (index <= STATIC_COUNT) {
          name = STATIC_NAMES[index]!;
          value = STATIC_VALUES[index]!;
        } else {
          name = this.#table.name(index - STATIC_COUNT - 1);
          value = this.#table.value(index - STATIC_COUNT - 1);
        }
      } else if (first >= 0x40) {
        // Literal with incremental indexing (§6.2.1).
        [name, value] = this.#literal(6);
        this.#table.add(name, value);
      } else if (first >= 0x20) {
        // Dynamic table size update (§6.3): only before the first field of a block (§4.2).
        if (fieldSeen) throw new HpackError('HPACK: dynamic table size update after a header field');
        const size = this.#integer(5);
        if (size > this.#maxTableSize) {
          throw new HpackError(`HPACK: dynamic table size update to ${size} (more than the ${this.#maxTableSize} allowed)`);
        }
        this.#table.resize(size);
        continue;
      } else {
        // Literal without indexing (0000) or never indexed (0001) (§6.2.2, §6.2.3): same layout.
        [name, value] = this.#literal(4);
      }
      fieldSeen = true;
      // Counted as SETTINGS_MAX_HEADER_LIST_SIZE counts it (RFC 9113 §6.5.2).
      listBytes += name.length + value.length + 32;
      if (listBytes > this.#maxHeaderListBytes) {
        throw new HpackError(`HPACK: header list over ${this.#maxHeaderListBytes} bytes`);
      }
      headers.push([name, value]);
    }
    this.#buf = NO_BLOCK; // not to keep the block's memory alive
    this.#broken = false;
    return headers;
  }

  /** Octets in the dynamic table (entry = name + value + 32). For tests and diagnostics. */
  get tableSize(): number {
    return this.#table.size;
  }

  /** The dynamic table's current maximum (as last set by a size update). */
  get tableMaxSize(): number {
    return this.#table.maxSize;
  }

  /** The dynamic table's entries, newest first (index 62 first). A copy, for tests and diagnostics. */
  get tableEntries(): ReadonlyArray<readonly [string, string]> {
    const entries: Array<readonly [string, string]> = [];
    for (let i = 0; i < this.#table.length; i++) entries.push([this.#table.name(i), this.#table.value(i)]);
    return entries;
  }

  /** A literal field whose name index has an `prefixBits`-bit prefix (0 = the name follows as a string). */
  #literal(prefixBits: number): [string, string] {
    const index = this.#integer(prefixBits);
    const name = index === 0 ? this.#string() : this.#name(index);
    return [name, this.#string()];
  }

  #name(index: number): string {
    this.#checkIndex(index);
    return index <= STATIC_COUNT ? STATIC_NAMES[index]! : this.#table.name(index - STATIC_COUNT - 1);
  }

  #checkIndex(index: number): void {
    if (index === 0 || index > STATIC_COUNT + this.#table.length) {
      throw new HpackError(`HPACK: index ${index} is not in the static or dynamic table`);
    }
  }

  /** A string literal (§5.2): Huffman flag, 7-bit-prefix length, the octets. */
  #string(): string {
    const buf = this.#buf;
    if (this.#pos >= buf.length) throw new HpackError('HPACK: block ends before a string literal');
    const huffman = (buf[this.#pos]! & 0x80) !== 0;
    const length = this.#integer(7);
    const start = this.#pos;
    const end = start + length;
    if (end > buf.length) throw new HpackError(`HPACK: string of ${length} octets runs past the block`);
    this.#pos = end;
    return huffman ? huffmanDecode(buf, start, end) : latin1(buf, start, end);
  }

  /** An integer with a `prefixBits`-bit prefix in the current octet (§5.1). */
  #integer(prefixBits: number): number {
    const buf = this.#buf;
    const mask = (1 << prefixBits) - 1;
    let value = buf[this.#pos++]! & mask;
    if (value < mask) return value;
    for (let octets = 0; octets < MAX_CONTINUATION_OCTETS; octets++) {
      if (this.#pos >= buf.length) throw new HpackError('HPACK: block ends inside an integer');
      const octet = buf[this.#pos++]!;
      value += (octet & 0x7f) * 2 ** (7 * octets);
      if (octet < 0x80) return value;
    }
    throw new HpackError(`HPACK: integer longer than ${MAX_CONTINUATION_OCTETS} continuation octets`);
  }
}

// Lookups for the encoder: a whole pair, then a name alone (the first index having it).
const PAIR_INDEX = new Map<string, number>();
const NAME_INDEX = new Map<string, number>();
for (let i = STATIC_COUNT; i >= 1; i--) {
  const [name, value] = STATIC_TABLE[i]!;
  PAIR_INDEX.set(`${name}\0${value}`, i);
  NAME_INDEX.set(name, i);
}

/**
 * Encodes request headers without the dynamic table, so the peer's decoder state never depends on
 * ours: a pair in the static table is an indexed field, a static name a literal without indexing
 * with that name's index, anything else a literal without indexing with a literal name. Strings go
 * raw (no Huffman): requests are a handful of short headers. Throws on an upper-case name (HTTP/2
 * forbids them), an empty name, CR, LF or NUL in a name or value, a value starting or ending with
 * white space, or a char above 0xff (a header is octets: such a char would be silently cut to its
 * low byte).
 */
export function encodeHeaderBlock(headers: ReadonlyArray<readonly [string, string]>): Buffer {
  let bound = 0;
  for (const [name, value] of headers) {
    checkName(name);
    checkValue(name, value);
    bound += 2 * 6 + 1 + name.length + value.length; // two lengths of up to 6 octets, the index octet
  }
  const out = Buffer.allocUnsafe(bound);
  let pos = 0;
  for (const [name, value] of headers) {
    const pair = PAIR_INDEX.get(`${name}\0${value}`);
    if (pair !== undefined) {
      pos = writeInteger(out, pos, 0x80, 7, pair);
      continue;
    }
    const nameIndex = NAME_INDEX.get(name);
    if (nameIndex !== undefined) {
      pos = writeInteger(out, pos, 0x00, 4, nameIndex);
    } else {
      out[pos++] = 0x00;
      pos = writeString(out, pos, name);
    }
    pos = writeString(out, pos, value);
  }
  return out.subarray(0, pos);
}

/**
 * Appends fields named `name` to blocks made by encodeHeaderBlock, for a field whose value changes
 * every request after fields that do not (a call's deadline after its cached headers): fields are
 * independent in a block without table updates, so the block's other fields are not encoded again.
 * The name is checked and encoded once; each field is a literal without indexing, its value
 * checked as encodeHeaderBlock checks values.
 */
export function fieldAppender(name: string): (block: Buffer, value: string) => Buffer {
  checkName(name);
  // Pseudo-headers must come before every regular field (RFC 9113 §8.3): never appended.
  if (name.startsWith(':')) throw new Error(`HPACK: pseudo-header ${name} cannot be appended after other fields`);
  const nameIndex = NAME_INDEX.get(name);
  const head = Buffer.allocUnsafe(6 + 1 + name.length);
  const headLength = nameIndex !== undefined ? writeInteger(head, 0, 0x00, 4, nameIndex) : writeString(head, writeInteger(head, 0, 0x00, 4, 0), name);
  return (block, value) => {
    checkValue(name, value);
    const out = Buffer.allocUnsafe(block.length + headLength + 6 + value.length);
    block.copy(out, 0);
    head.copy(out, block.length, 0, headLength);
    return out.subarray(0, writeString(out, block.length + headLength, value));
  };
}

function checkName(name: string): void {
  if (name.length === 0) throw new Error('HPACK: empty header name');
  if (/[A-Z]/.test(name)) throw new Error(`HPACK: header name ${JSON.stringify(name)} has upper case (HTTP/2 requires lower case)`);
  checkOctets(name, `header name ${JSON.stringify(name)}`);
}

function checkValue(name: string, value: string): void {
  checkOctets(value, `value of header ${name}`);
  // RFC 9113 §8.2.1 forbids it, and a peer may drop such a field without a word (nghttp2 does).
  if (/^[ \t]|[ \t]$/.test(value)) throw new Error(`HPACK: value of header ${name} starts or ends with white space`);
}

function checkOctets(text: string, what: string): void {
  // eslint-disable-next-line no-control-regex
  if (/[\r\n\0]/.test(text)) throw new Error(`HPACK: ${what} holds CR, LF or NUL`);
  if (/[^\u0000-\u00ff]/.test(text)) throw new Error(`HPACK: ${what} holds a char above 0xff`);
}

/** Writes `value` with a `prefixBits`-bit prefix into an octet starting with `flags` (§5.1); returns the next position. Exported for the RFC's C.1 examples. */
export function writeInteger(out: Buffer, pos: number, flags: number, prefixBits: number, value: number): number {
  const mask = (1 << prefixBits) - 1;
  if (value < mask) {
    out[pos++] = flags | value;
    return pos;
  }
  out[pos++] = flags | mask;
  let rest = value - mask;
  while (rest >= 0x80) {
    out[pos++] = (rest & 0x7f) | 0x80;
    rest = Math.floor(rest / 0x80);
  }
  out[pos++] = rest;
  return pos;
}

/** A raw string literal: H = 0, 7-bit-prefix length, the latin1 octets. */
function writeString(out: Buffer, pos: number, text: string): number {
  pos = writeInteger(out, pos, 0x00, 7, text.length);
  return pos + out.write(text, pos, 'latin1');
}
