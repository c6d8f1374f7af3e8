import { test } from 'node:test';
import assert from 'node:assert/strict';
import { crossSiteRefusal, type RequestOrigin } from '../../src/daemon/cross-site.js';

/** [what, request, refused?] */
const ROWS: readonly (readonly [string, RequestOrigin, boolean])[] = [
  ['the CLI or curl: no browser headers', { host: '127.0.0.1:8080' }, false],
  ['the dashboard page: same-origin fetch', { secFetchSite: 'same-origin', origin: 'http://127.0.0.1:8080', host: '127.0.0.1:8080' }, false],
  ['typed into the address bar', { secFetchSite: 'none', host: '127.0.0.1:8080' }, false],
  ['an <img> on another site', { secFetchSite: 'cross-site', host: '127.0.0.1:8080' }, true],
  ['another subdomain of the same site', { secFetchSite: 'same-site', host: 'hr.example.com' }, true],
  ['Sec-Fetch-Site in capitals', { secFetchSite: 'Cross-Site', host: 'h:1' }, true],
  ['an older browser: Origin of another host', { origin: 'http://evil.example', host: '127.0.0.1:8080' }, true],
  ['Origin on another port', { origin: 'http://127.0.0.1:9999', host: '127.0.0.1:8080' }, true],
  ['Origin null (sandboxed frame, file:)', { origin: 'null', host: '127.0.0.1:8080' }, true],
  ['Origin that is not a URL', { origin: '::::', host: '127.0.0.1:8080' }, true],
  ['Origin without a Host header', { origin: 'http://127.0.0.1:8080' }, true],
  ['Origin matching Host, case aside', { origin: 'http://HR.example.com', host: 'hr.example.com' }, false],
];

for (const [what, request, refused] of ROWS) {
  test(`cross-site guard: ${what} → ${refused ? 'refused' : 'allowed'}`, () => {
    assert.equal(crossSiteRefusal(request) !== null, refused);
  });
}
