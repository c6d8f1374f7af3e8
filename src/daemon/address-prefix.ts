/**
 * The unit password guessing is counted by: an IPv4 address (/32), or the /64 network of an IPv6
 * address, since one IPv6 host usually holds a whole /64 and could otherwise take a fresh
 * address, and a fresh count, for every guess. IPv4-mapped IPv6 addresses (`::ffff:1.2.3.4`)
 * count as their IPv4 address.
 */
import { isIPv4, isIPv6 } from 'node:net';

/** Recently computed prefixes: clients come back; cleared when full, so it stays small. */
const known = new Map<string, string>();
const KNOWN_MAX = 256;

/** The counting key of a peer address: `1.2.3.4`, `2001:db8:0:1::/64`; anything else as given. */
export function addressPrefix(address: string): string {
  const hit = known.get(address);
  if (hit !== undefined) return hit;
  const prefix = computePrefix(address);
  if (known.size >= KNOWN_MAX) known.clear();
  known.set(address, prefix);
  return prefix;
}

function computePrefix(address: string): string {
  const bare = address.replace(/%.*$/, '');
  if (isIPv4(bare)) return bare;
  if (!isIPv6(bare)) return address;
  const groups = expandIPv6(bare);
  if (groups.slice(0, 5).every((g) => Number.parseInt(g, 16) === 0) && groups[5] === 'ffff') {
    const [high, low] = groups.slice(6).map((g) => Number.parseInt(g, 16)) as [number, number];
    return [high >> 8, high & 255, low >> 8, low & 255].join('.');
  }
  return `${groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, '')).join(':')}::/64`;
}

/** The eight 16-bit groups of a valid IPv6 address, lower case (an embedded IPv4 tail becomes two groups). */
function expandIPv6(address: string): string[] {
  let text = address.toLowerCase();
  const v4 = /(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (v4) {
    const [a, b, c, d] = v4.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, v4.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const missing = tail === undefined ? 0 : 8 - left.length - right.length;
  return [...left, ...Array.from({ length: missing }, () => '0'), ...right];
}
