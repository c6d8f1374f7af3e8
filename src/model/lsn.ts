/**
 * PostgreSQL WAL positions (LSNs, "16/B374D848"). Branded so a position is never mixed up with
 * an ordinary string, and compared as 64-bit integers.
 */
export type Lsn = string & { readonly __brand: 'Lsn' };

const LSN_PATTERN = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/;

export function parseLsn(text: string | null | undefined): Lsn | null {
  if (typeof text !== 'string' || !LSN_PATTERN.test(text)) return null;
  return text.toUpperCase() as Lsn;
}

export function lsnToBigInt(lsn: Lsn): bigint {
  const match = LSN_PATTERN.exec(lsn);
  if (!match) throw new Error(`not an LSN: ${lsn}`);
  return (BigInt(`0x${match[1]}`) << 32n) + BigInt(`0x${match[2]}`);
}

/** Bytes from `from` to `to` (negative when `to` is behind). */
export function lsnDiff(to: Lsn, from: Lsn): number {
  return Number(lsnToBigInt(to) - lsnToBigInt(from));
}
