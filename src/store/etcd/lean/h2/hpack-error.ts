/**
 * A header block that cannot be decoded (RFC 7541 §2.2 / RFC 9113 §4.3: a COMPRESSION_ERROR).
 * The decoder's dynamic table is then out of step with the peer's, so the only recovery is to drop
 * the connection; the caller does that.
 */
export class HpackError extends Error {
  override readonly name = 'HpackError';
}
