/**
 * The HPACK Huffman code (RFC 7541 Appendix B). The code is canonical (codes of one length are
 * consecutive numbers in symbol order, shorter codes numerically first), so the 257 code lengths
 * below determine it: `CODES` is derived from them at load and checked against the RFC's table in
 * the unit tests.
 *
 * Decoding walks a 4-bit state machine built once at load: a state is an inner node of the code
 * tree, and each (state, nibble) entry says where the walk ends, the symbol completed on the way
 * (at most one: no code is shorter than 5 bits) and whether the EOS symbol was hit. Two table
 * look-ups per input byte, no allocation besides the result string.
 */
import { HpackError } from './hpack-error.js';

/** Code length in bits of each symbol: bytes 0..255, then EOS (256). Typed from RFC 7541 Appendix B. */
// prettier-ignore
const CODE_LENGTHS: readonly number[] = [
  13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28, // 0x00
  28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28, // 0x10
   6, 10, 10, 12, 13,  6,  8, 11, 10, 10,  8, 11,  8,  6,  6,  6, // 0x20  ' ' .. '/'
   5,  5,  5,  6,  6,  6,  6,  6,  6,  6,  7,  8, 15,  6, 12, 10, // 0x30  '0' .. '?'
  13,  6,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7, // 0x40  '@' .. 'O'
   7,  7,  7,  7,  7,  7,  7,  7,  8,  7,  8, 13, 19, 13, 14,  6, // 0x50  'P' .. '_'
  15,  5,  6,  5,  6,  5,  6,  6,  6,  5,  7,  7,  6,  6,  6,  5, // 0x60  '`' .. 'o'
   6,  7,  6,  5,  5,  6,  7,  7,  7,  7,  7, 15, 11, 14, 13, 28, // 0x70  'p' .. DEL
  20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23, // 0x80
  24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24, // 0x90
  22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23, // 0xa0
  21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23, // 0xb0
  26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25, // 0xc0
  19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27, // 0xd0
  20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23, // 0xe0
  26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26, // 0xf0
  30, // EOS
];

const EOS = 256;
const SYMBOLS = 257;

/** Canonical codes from the lengths: per length, the first code follows the last one of the length before. */
function canonicalCodes(lengths: readonly number[]): number[] {
  const maxLength = Math.max(...lengths);
  const codes = new Array<number>(lengths.length).fill(0);
  let next = 0;
  for (let length = 1; length <= maxLength; length++) {
    for (let sym = 0; sym < lengths.length; sym++) {
      if (lengths[sym] !== length) continue;
      codes[sym] = next;
      next++;
    }
    next *= 2; // not `<<`: codes of 30 bits shifted would leave 32-bit range
  }
  return codes;
}

/** The code of each symbol (right-aligned, `CODE_LENGTHS[sym]` bits). */
export const CODES: readonly number[] = canonicalCodes(CODE_LENGTHS);
export { CODE_LENGTHS };

// The code tree: inner node i has children at [2i] (bit 0) and [2i+1] (bit 1); a child >= 0 is an
// inner node, a negative child is the leaf ~sym. 257 leaves make 256 inner nodes; node 0 is the root.
const tree = new Int32Array(2 * (SYMBOLS - 1)).fill(0x7fffffff);
{
  let nodes = 1;
  for (let sym = 0; sym < SYMBOLS; sym++) {
    const length = CODE_LENGTHS[sym]!;
    const code = CODES[sym]!;
    let node = 0;
    for (let bit = length - 1; bit >= 0; bit--) {
      const slot = 2 * node + (Math.floor(code / 2 ** bit) & 1);
      if (bit === 0) {
        tree[slot] = ~sym;
      } else {
        if (tree[slot] === 0x7fffffff) tree[slot] = nodes++;
        node = tree[slot]!;
      }
    }
  }
}

// A string may end on a prefix of EOS (all ones) of at most 7 bits (RFC 7541 §5.2): the nodes
// reached from the root by up to 7 one-bits are the accepting end states, with the root itself.
const acceptsEnd = new Uint8Array(SYMBOLS - 1);
{
  let node = 0;
  for (let ones = 0; ones <= 7; ones++) {
    acceptsEnd[node] = 1;
    node = tree[2 * node + 1]!;
  }
}

// Nibble transitions, one Int32 per (state, nibble): bits 0..7 the next state, bit 8 "a symbol
// was completed", bits 9..16 that symbol, bit 17 "EOS was decoded" (an error).
const EMITS = 1 << 8;
const FAILS = 1 << 17;
const transitions = new Int32Array((SYMBOLS - 1) * 16);
for (let state = 0; state < SYMBOLS - 1; state++) {
  for (let nibble = 0; nibble < 16; nibble++) {
    let node = state;
    let entry = 0;
    for (let bit = 3; bit >= 0; bit--) {
      const child = tree[2 * node + ((nibble >> bit) & 1)]!;
      if (child >= 0) {
        node = child;
        continue;
      }
      const sym = ~child;
      if (sym === EOS) entry |= FAILS;
      else entry |= EMITS | (sym << 9);
      node = 0;
    }
    transitions[state * 16 + nibble] = entry | node;
  }
}

/** One-char strings by byte, for short strings built by concatenation. */
const CHARS: readonly string[] = Array.from({ length: 256 }, (_, byte) => String.fromCharCode(byte));

/**
 * `buf[start, end)` as a latin1 string. Short strings (most header values: "200", "0") are
 * concatenated from one-char strings: under the agent's `--no-opt` that costs a fifth of a
 * `Buffer.toString` call, which wins from about 7 chars on.
 */
export function latin1(buf: Buffer, start: number, end: number): string {
  if (end - start > 6) return buf.toString('latin1', start, end);
  let text = '';
  for (let i = start; i < end; i++) text += CHARS[buf[i]!]!;
  return text;
}

// Decoded bytes land here before becoming a string; grown when a longer string comes.
let scratch = Buffer.allocUnsafe(256);

/**
 * Decodes `buf[start, end)` as Huffman-coded octets, returned as a latin1 string (one char per
 * byte). Throws HpackError on the EOS symbol, padding longer than 7 bits or padding not all ones.
 */
export function huffmanDecode(buf: Buffer, start: number, end: number): string {
  // Every symbol takes at least 5 bits.
  const most = Math.floor(((end - start) * 8) / 5);
  if (scratch.length < most) scratch = Buffer.allocUnsafe(Math.max(most, 2 * scratch.length));
  const out = scratch;
  let n = 0;
  let state = 0;
  for (let i = start; i < end; i++) {
    const byte = buf[i]!;
    const high = transitions[state * 16 + (byte >> 4)]!;
    if ((high & EMITS) !== 0) out[n++] = high >> 9;
    const low = transitions[(high & 0xff) * 16 + (byte & 0x0f)]!;
    if ((low & EMITS) !== 0) out[n++] = low >> 9;
    if (((high | low) & FAILS) !== 0) throw new HpackError('HPACK: Huffman string holds the EOS symbol');
    state = low & 0xff;
  }
  if (acceptsEnd[state] !== 1) throw new HpackError('HPACK: Huffman string ends in padding that is not a prefix of EOS of at most 7 bits');
  return latin1(out, 0, n);
}

/** Huffman-codes `text` (latin1: one byte per char), padding the last octet with ones. */
export function huffmanEncode(text: string): Buffer {
  const out = Buffer.allocUnsafe(huffmanEncodedLength(text));
  let pos = 0;
  let pending = 0; // bits not yet written, right-aligned
  let pendingBits = 0; // at most 7 between symbols
  for (let i = 0; i < text.length; i++) {
    const sym = text.charCodeAt(i) & 0xff;
    let length = CODE_LENGTHS[sym]!;
    const code = CODES[sym]!;
    // Feed the code in pieces small enough that `pending` stays within 32-bit range.
    while (length > 0) {
      const take = Math.min(length, 8);
      length -= take;
      pending = (pending << take) | (Math.floor(code / 2 ** length) & ((1 << take) - 1));
      pendingBits += take;
      while (pendingBits >= 8) {
        pendingBits -= 8;
        out[pos++] = (pending >> pendingBits) & 0xff;
      }
      pending &= (1 << pendingBits) - 1;
    }
  }
  if (pendingBits > 0) out[pos++] = ((pending << (8 - pendingBits)) | (0xff >> pendingBits)) & 0xff;
  return out;
}

/** Octets `huffmanEncode(text)` takes (lets an encoder pick the shorter of raw and Huffman). */
export function huffmanEncodedLength(text: string): number {
  let bits = 0;
  for (let i = 0; i < text.length; i++) bits += CODE_LENGTHS[text.charCodeAt(i) & 0xff]!;
  return Math.ceil(bits / 8);
}
