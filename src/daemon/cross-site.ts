/**
 * Cross-site requests to admin functions are refused. The REST API keeps the original's GET
 * form (wire compatibility), and a browser that holds Basic credentials for the daemon (the
 * dashboard's /basic-login, or a user who once opened a URL), or any local browser against a
 * loopback daemon with zero_auth, would send them along with an <img> or a form posted from
 * another site. Browsers say where a request comes from (`Sec-Fetch-Site`, `Origin`); the CLI,
 * curl and scripts send neither, so they are unaffected. Pure: headers in, a reason or null out.
 */

export interface RequestOrigin {
  secFetchSite?: string | undefined;
  origin?: string | undefined;
  /** The Host header the request was sent to. */
  host?: string | undefined;
}

/** Why a call to an admin function must be refused as cross-site, or null. */
export function crossSiteRefusal(request: RequestOrigin): string | null {
  const site = request.secFetchSite?.toLowerCase();
  if (site === 'cross-site' || site === 'same-site') return `a browser request from another site (Sec-Fetch-Site: ${site})`;
  const origin = request.origin;
  if (origin === undefined || origin === '') return null;
  if (origin === 'null') return 'a browser request from an opaque origin (Origin: null)';
  let originHost: string;
  try {
    originHost = new URL(origin).host.toLowerCase();
  } catch {
    return `a browser request with an unreadable Origin header`;
  }
  if (request.host === undefined || originHost !== request.host.toLowerCase()) return `a browser request from another origin (${originHost})`;
  return null;
}
