/**
 * A leader's API URL as read from etcd, checked before any use (it is data another process wrote):
 * http or https, a host that is a valid hostname or IP address, no user or password in it, no
 * query or fragment. Anything else is refused, so a forged or broken leader record can never make
 * a follower send the caller's credentials somewhere unexpected.
 */
import { isIP } from 'node:net';

const HOSTNAME = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i;

export type LeaderUrlCheck = { ok: true; url: URL } | { ok: false; reason: string };

export function checkLeaderUrl(text: string): LeaderUrlCheck {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return { ok: false, reason: `${JSON.stringify(text)} is not a URL` };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return { ok: false, reason: `scheme ${url.protocol} is not http or https` };
  if (url.username !== '' || url.password !== '') return { ok: false, reason: 'the URL carries a user or password' };
  if (url.search !== '' || url.hash !== '') return { ok: false, reason: 'the URL carries a query or fragment' };
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  if (isIP(host) === 0 && !HOSTNAME.test(host)) return { ok: false, reason: `host ${JSON.stringify(host)} is not a valid hostname or IP address` };
  return { ok: true, url };
}
