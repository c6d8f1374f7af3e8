/**
 * Dashboard authentication in Chromium against a real daemon and a real 3-node cluster: a wrong
 * password is refused on the form; the read password sees the cluster but no action; the admin
 * password sees the actions; logout ends the session; an idle session expires (the page asks to
 * log in again, the API answers 401); a session call without its CSRF token is refused with 403
 * (and with it, read functions answer while admin ones stay refused for a read session); the
 * event stream resumes from Last-Event-ID.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startDaemon, type RunningDaemon } from '../../src/daemon/daemon.js';
import { startCluster, type TestCluster } from '../fixtures/cluster.js';
import { launchBrowser, type TestBrowser } from '../fixtures/browser.js';
import { http } from '../fixtures/daemon.js';
import { writeConfig } from '../fixtures/handyrep-config.js';

const IDLE_SECONDS = 4;
let cluster: TestCluster;
let daemon: RunningDaemon;
let chrome: TestBrowser;

before(async () => {
  chrome = await launchBrowser();
  cluster = await startCluster({ nodes: 3 });
  const path = await writeConfig(cluster, {
    handyrep: { authentication_method: 'simple_password_auth' },
    passwords: { admin_password: 'dash-admin', read_password: 'dash-read' },
    daemon: { dashboard_session_idle_seconds: IDLE_SECONDS, auth_failure_delay_seconds: 0.01, auth_failure_delay_max_seconds: 0.05 },
  });
  daemon = await startDaemon(path, { host: '127.0.0.1', port: 0, monitor: true, notice: () => undefined });
});

after(async () => {
  await chrome?.close();
  await daemon?.stop();
  await cluster?.stop();
});

/** Log in through the form; returns the page. */
async function loggedIn(password: string) {
  const context = await chrome.browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  await page.goto(daemon.url);
  await page.fill('input[name=password]', password);
  await page.click('button[type=submit]');
  return page;
}

/** Session cookie and CSRF token from POST /login. */
async function apiLogin(password: string): Promise<{ cookie: string; csrf: string }> {
  const reply = await http(daemon.url, '/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ password }) });
  assert.equal(reply.status, 200, reply.text);
  const setCookie = String(reply.headers['set-cookie']);
  assert.match(setCookie, /HttpOnly/);
  assert.match(setCookie, /SameSite=Strict/);
  return { cookie: setCookie.split(';')[0] as string, csrf: String((reply.json as { csrf: string }).csrf) };
}

test('a wrong password is refused on the form and nothing is shown', async () => {
  const page = await loggedIn('not-the-password');
  const error = await page.waitForSelector('[data-testid=login-error]', { timeout: 5000 });
  assert.match((await error.textContent()) ?? '', /wrong password/);
  assert.equal(await page.locator('table.servers').count(), 0);
  await page.context().close();
});

test('the read password sees every server live but no action', async () => {
  const page = await loggedIn('dash-read');
  await page.waitForSelector('tr[data-server=paul][data-status=healthy]', { timeout: 10_000 });
  assert.deepEqual(await page.locator('tr[data-server]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-server')).sort()), ['george', 'john', 'paul']);
  assert.equal(await page.locator('[data-testid=access]').textContent(), 'read-only');
  assert.equal(await page.locator('button[data-action]').count(), 0, 'no action offered to a reader');
  await page.click('text=Log out');
  await page.waitForSelector('input[name=password]');
  await page.context().close();
});

test('the admin password sees the actions', async () => {
  const page = await loggedIn('dash-admin');
  await page.waitForSelector('tr[data-server=paul] button[data-action=switchover]', { timeout: 10_000 });
  assert.equal(await page.locator('[data-testid=access]').textContent(), 'admin');
  assert.ok((await page.locator('button[data-action=restart]').count()) >= 3);
  await page.context().close();
});

test('a session call without its CSRF token is refused with 403 and changes nothing', async () => {
  const admin = await apiLogin('dash-admin');
  const before = (await http(daemon.url, '/get_status', { headers: { cookie: admin.cookie, 'x-csrf-token': admin.csrf } }));
  assert.equal(before.status, 200, before.text);
  const refused = await http(daemon.url, '/pause', { method: 'POST', headers: { cookie: admin.cookie, 'content-type': 'application/json' }, body: '{}' });
  assert.equal(refused.status, 403, refused.text);
  assert.match(String((refused.json as { details: string }).details), /CSRF/);
  const wrong = await http(daemon.url, '/pause', { method: 'POST', headers: { cookie: admin.cookie, 'x-csrf-token': `${admin.csrf}x`, 'content-type': 'application/json' }, body: '{}' });
  assert.equal(wrong.status, 403);
  const status = (await http(daemon.url, '/get_status', { headers: { cookie: admin.cookie, 'x-csrf-token': admin.csrf } })).json as { cluster: { paused?: boolean } };
  assert.notEqual(status.cluster.paused, true, 'the refused pause changed nothing');

  const reader = await apiLogin('dash-read');
  const readOk = await http(daemon.url, '/get_master_name', { headers: { cookie: reader.cookie, 'x-csrf-token': reader.csrf } });
  assert.equal(readOk.status, 200);
  const adminRefused = await http(daemon.url, '/pause', { method: 'POST', headers: { cookie: reader.cookie, 'x-csrf-token': reader.csrf, 'content-type': 'application/json' }, body: '{}' });
  assert.equal(adminRefused.status, 403);
});

test('the event stream replays from Last-Event-ID, or starts from a snapshot', async () => {
  const { cookie } = await apiLogin('dash-read');
  const first = await readEvents(cookie, undefined, 1500);
  assert.equal(first[0]?.event, 'snapshot');
  const lastId = first.at(-1)?.id;
  assert.ok(lastId, 'events carry ids');
  // Something to miss: a log line and a state change from a check.
  daemon.hr.events.info('TEST', 'while the dashboard was away');
  await new Promise((r) => setTimeout(r, 300));
  const resumed = await readEvents(cookie, lastId, 800);
  assert.ok(!resumed.some((e) => e.event === 'snapshot'), 'a known id gets the missed events only');
  assert.ok(resumed.some((e) => e.event === 'log' && e.data.includes('while the dashboard was away')));
  const unknown = await readEvents(cookie, 'deadbeef.1', 800);
  assert.equal(unknown[0]?.event, 'snapshot', 'an id of another daemon process gets a snapshot');
});

test('an idle session expires: the page asks to log in again and the API answers 401', async () => {
  const page = await loggedIn('dash-read');
  await page.waitForSelector('tr[data-server=john]', { timeout: 10_000 });
  const cookie = (await page.context().cookies()).find((c) => c.name === 'handyrep_session');
  assert.ok(cookie?.httpOnly, 'the session cookie is HttpOnly');
  assert.equal(cookie?.sameSite, 'Strict');
  assert.equal(await page.evaluate('document.cookie'), '', 'the page cannot read the cookie');
  await new Promise((r) => setTimeout(r, (IDLE_SECONDS + 1) * 1000));
  const api = await http(daemon.url, '/get_status', { headers: { cookie: `handyrep_session=${cookie?.value}` } });
  assert.equal(api.status, 401);
  assert.equal(api.headers['www-authenticate'], undefined, 'no Basic dialog over the page');
  await page.reload();
  await page.waitForSelector('input[name=password]', { timeout: 5000 });
  await page.context().close();
});

/** Read /events for a while; the frames received. */
async function readEvents(cookie: string, lastEventId: string | undefined, ms: number): Promise<{ id?: string; event: string; data: string }[]> {
  const controller = new AbortController();
  const headers: Record<string, string> = { cookie };
  if (lastEventId !== undefined) headers['last-event-id'] = lastEventId;
  const response = await fetch(`${daemon.url}/events`, { headers, signal: controller.signal });
  assert.equal(response.status, 200);
  assert.match(response.headers.get('content-type') ?? '', /text\/event-stream/);
  let text = '';
  const reader = (response.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  const timer = setTimeout(() => controller.abort(), ms);
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
  } catch {
    // aborted: the time is up
  } finally {
    clearTimeout(timer);
  }
  return text
    .split('\n\n')
    .map((frame) => {
      const fields = Object.fromEntries(frame.split('\n').filter((l) => /^(id|event|data): /.test(l)).map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 2)]));
      return { id: fields['id'], event: fields['event'] ?? '', data: fields['data'] ?? '' };
    })
    .filter((f) => f.event !== '');
}
