/**
 * What the node agents publish, shown to operators (get_agents; `handyrep agents`; the dashboard's
 * Agent column and panel). Real etcd, three real PostgreSQL nodes, a real agent per node
 * (deployment ha), a real controller daemon under etcd_lease:
 *   1. get_agents over REST (read password) lists each node's agent reporting, with its role;
 *   2. george's agent is SIGKILLed: within the member lease's ttl its record is gone, and get_agents
 *      says "missing" for george while the others still report;
 *   3. the CLI prints the table (george MISSING, john master);
 *   4. Chromium: the cluster table's Agent column shows john's role and george's missing agent; the
 *      server pages' Agent panel shows john's role, and george's "No agent record" warning;
 *   5. the page asks get_agents only while it is visible, and at once when it shows again.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { AgentsReport } from '../../src/model/agent-report.js';
import { launchBrowser, type TestBrowser } from '../fixtures/browser.js';
import { runCli } from '../fixtures/cli.js';
import { basic, http } from '../fixtures/daemon.js';
import { READ, TTL_SECONDS, type Controller } from '../fixtures/etcd-controllers.js';
import { closeAdoptRig, openAdoptRig, startAdoptAgents, withLogs, type AdoptRig } from '../fixtures/ha-adopt.js';

async function agentsOf(c: Controller): Promise<AgentsReport> {
  const reply = await http(c.daemon.url, '/get_agents', { headers: { authorization: basic(READ) } });
  assert.equal(reply.status, 200, reply.text);
  return reply.json as AgentsReport;
}

describe("the agents' member records shown to operators", { timeout: 240_000 }, () => {
  let rig: AdoptRig | null = null;
  let chrome: TestBrowser | null = null;

  after(async () => {
    await chrome?.close();
    await closeAdoptRig(rig);
  });

  it("REST, CLI and dashboard show each agent's role, and an agent killed as missing within the lease ttl", async (t) => {
    const opened = await openAdoptRig('agents-view', async () => ({ failover: {} }), (r) => (rig = r));
    const current = opened.rig;
    const ctl = opened.ctlA;
    try {
      await startAdoptAgents(current);
      const before = await agentsOf(ctl);
      assert.deepEqual(Object.keys(before.agents), ['john', 'paul', 'george']);
      assert.deepEqual(before.order, ['john', 'paul', 'george']);
      assert.deepEqual(Object.fromEntries(Object.entries(before.agents).map(([n, e]) => [n, [e.state, e.configured, e.role, e.postgres]])), {
        john: ['reporting', true, 'master', 'running'],
        paul: ['reporting', true, 'replica', 'running'],
        george: ['reporting', true, 'replica', 'running'],
      });
      assert.equal(before.stale_after_ms, TTL_SECONDS * 1000);
      assert.equal(before.agents['paul']?.recorded_master, 'john');
      assert.ok(typeof before.agents['paul']?.timeline === 'number' && before.agents['paul'].agent_version === 1, JSON.stringify(before.agents['paul']));

      await current.agents.get('george')?.stop('SIGKILL');
      const killed = Date.now();
      let seen: AgentsReport = before;
      while ((seen = await agentsOf(ctl)).agents['george']?.state === 'reporting') {
        assert.ok(Date.now() - killed < (TTL_SECONDS + 6) * 1000, `george's agent still reported ${Date.now() - killed} ms after its SIGKILL`);
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      const gone = Date.now() - killed;
      t.diagnostic(`george's record left 'reporting' ${gone} ms after the SIGKILL (member lease ttl ${TTL_SECONDS} s)`);
      assert.ok(gone <= (TTL_SECONDS + 2) * 1000, `within the member lease's ttl (plus etcd's expiry check): ${gone} ms`);
      // Whether first stale or gone at once, it ends missing: the lease expired with the record.
      while ((seen = await agentsOf(ctl)).agents['george']?.state !== 'missing') {
        assert.ok(Date.now() - killed < (TTL_SECONDS + 6) * 1000, `george: ${JSON.stringify(seen.agents['george'])}`);
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      assert.match(seen.agents['george']?.problem ?? '', /^no member record/);
      assert.deepEqual([seen.agents['john']?.state, seen.agents['paul']?.state], ['reporting', 'reporting']);

      const cli = await runCli(['agents', '--url', ctl.daemon.url], { HANDYREP_PASSWORD: READ });
      assert.equal(cli.code, 0, cli.stderr);
      const line = (name: string): string => cli.stdout.split('\n').find((l) => l.startsWith(`${name} `)) ?? '';
      assert.match(line('john'), /^john\s+ok \d+\.\d s\s+master\s+running\s/, cli.stdout);
      assert.match(line('paul'), /^paul\s+ok \d+\.\d s\s+replica\s+running\s/, cli.stdout);
      assert.match(line('george'), /^george\s+MISSING\s.*no member record/, cli.stdout);

      chrome = await launchBrowser();
      const page = await (await chrome.browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
      await page.goto(ctl.daemon.url);
      await page.fill('input[name=password]', READ);
      await page.click('button[type=submit]');
      await page.waitForSelector('tr[data-server=george] [data-agent-state=missing]', { timeout: 20_000 });
      assert.equal(await page.locator('tr[data-server=george] .agent-badge').textContent(), 'no agent record');
      assert.equal(await page.locator('tr[data-server=john] .agent-badge').textContent(), 'master');
      await page.goto(`${ctl.daemon.url}/#/server/john`);
      await page.waitForSelector('[data-testid=agent-panel][data-agent-state=reporting][data-agent-role=master]', { timeout: 10_000 });
      await page.goto(`${ctl.daemon.url}/#/server/george`);
      const warning = await page.waitForSelector('[data-testid=agent-panel][data-agent-state=missing] [data-testid=agent-warning]', { timeout: 10_000 });
      assert.match((await warning.textContent()) ?? '', /^No agent record: the agent is not running or cannot reach etcd, or its member lease expired$/);

      // get_agents only while the page is visible: hidden (as a background tab), no call for more
      // than two periods; shown again, a call at once. Headless Chromium's pages are always visible:
      // the page's document is told otherwise, as the browser would tell it.
      let asked = 0;
      page.on('request', (r) => void (new URL(r.url()).pathname === '/get_agents' && (asked += 1)));
      const show = (state: 'hidden' | 'visible'): Promise<unknown> =>
        page.evaluate(`Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => '${state}' });
          Object.defineProperty(document, 'hidden', { configurable: true, get: () => ${state === 'hidden'} });
          document.dispatchEvent(new Event('visibilitychange'))`);
      await show('hidden');
      await new Promise((resolve) => setTimeout(resolve, 300)); // a call asked just before may still be reported
      asked = 0;
      await new Promise((resolve) => setTimeout(resolve, 6500));
      assert.equal(asked, 0, 'get_agents calls while the page was hidden');
      const shown = Date.now();
      const next = page.waitForRequest((r) => new URL(r.url()).pathname === '/get_agents', { timeout: 10_000 });
      await show('visible');
      await next;
      t.diagnostic(`shown again: get_agents asked after ${Date.now() - shown} ms`);
      assert.ok(Date.now() - shown < 1500, `asked at once when shown again, not at the next period: ${Date.now() - shown} ms`);
    } catch (err) {
      throw withLogs(current, err);
    }
  });
});
