/**
 * Chaos: the controller alone is cut off from a live master (iptables drops only the controller
 * uid's packets; replication and the replica hosts' probes keep flowing, as in
 * chaos-controller-partition). Over several failover_check cycles (polls and a verification),
 * what clients and operators see must stay steady: the master `warning` ("HandyRep cannot reach
 * it; replicas see it"), the cluster `warning` and never `down`, `/primary/<master>` 200 from the
 * daemon's application (HAProxy keeps its sessions), and one alert for the episode (delivered by
 * push_alert_command into a file), plus one when it ends.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { buildDaemonApp } from '../../src/daemon/app.js';
import { handyRepBackend } from '../../src/daemon/backend.js';
import { simplePasswordAuth } from '../../src/plugins/auth/simple_password_auth.js';
import { EventLog } from '../../src/log/event-log.js';
import { configSchema } from '../../src/config/schema.js';
import { buildPluginContext } from '../../src/runtime/plugin-context.js';
import { PgSqlClient } from '../../src/nodes/sql-client.js';
import { NodeShellPool } from '../../src/nodes/node-shells.js';
import { LocalShell } from '../../src/nodes/local-shell.js';
import type { HandyRep } from '../../src/api/handyrep.js';
import { heal, partition } from '../fixtures/faults.js';
import { FAILOVER_TEST_SETTINGS } from '../fixtures/failover-settings.js';
import { writeConfig } from '../fixtures/handyrep-config.js';
import { checkUntil, cleanupAll, closeBed, openBed, sleep, waitUntil } from '../fixtures/chaos.js';

after(cleanupAll);

const CONTROLLER_UID = process.getuid?.() ?? 0;
const CYCLES = 4;

/** The daemon's HTTP application over this HandyRep, not listening (requests by injection). */
function daemonApp(hr: HandyRep): FastifyInstance {
  const config = configSchema.parse({ handyrep: { authentication_method: 'simple_password_auth' }, passwords: { admin_password: 'cutoff-admin' } });
  const log = new EventLog({ file: null, tailSize: 10, verbose: false });
  const ctx = buildPluginContext({ config, configDir: '.', log, sql: new PgSqlClient(), shells: new NodeShellPool(), controllerShell: new LocalShell() });
  return buildDaemonApp({ backend: handyRepBackend(hr), auth: () => ({ plugin: simplePasswordAuth, ctx }), throttle: { baseMs: 0, maxMs: 0 }, version: 'test' });
}

function alertLines(file: string): string[] {
  return existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : [];
}

test('controller cut off from a master the replicas see: steady warning, /primary 200, one alert per episode', { timeout: 150_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'handyrep-cutoff-alerts-'));
  const alerts = join(dir, 'alerts.txt');
  const script = join(dir, 'alert.sh');
  writeFileSync(script, `#!/bin/sh\nprintf '%s|%s|%s|%s\\n' "$1" "$2" "$3" "$4" >> '${alerts}'\n`);
  chmodSync(script, 0o755);
  const bed = await openBed({ open: false });
  // The bed's configuration plus the alert command (openBed takes no plugins section).
  await writeConfig(bed.cluster, {
    handyrep: { connect_timeout_seconds: 1, push_alert_method: 'push_alert_command' },
    failover: FAILOVER_TEST_SETTINGS,
    plugins: { push_alert_command: { command: [script] } },
  });
  const hr = await bed.reopen();
  assert.equal((await hr.init_handyrep_db()).result, 'SUCCESS');
  assert.equal((await hr.verify_all()).result, 'SUCCESS');
  const app = daemonApp(hr);
  try {
    await sleep(500);
    rmSync(alerts, { force: true }); // count from the fault on
    partition(bed.node('john').host, { uid: CONTROLLER_UID });

    const transcript: string[] = [];
    for (let cycle = 1; cycle <= CYCLES; cycle++) {
      const verify = cycle === 3; // the daemon's schedule mixes verifications into the polls
      const rd = await hr.failover_check(verify);
      const status = await hr.get_status();
      const primary = await app.inject({ method: 'GET', url: '/primary/john' });
      const line = `#${cycle}${verify ? ' verify' : ''} ${rd.result}: ${rd.details} | john ${status.servers.john?.status} (${status.servers.john?.status_message}) | cluster ${status.cluster.status} | /primary ${primary.statusCode}`;
      transcript.push(line);
      const story = `\n  ${transcript.join('\n  ')}\nlog:\n${bed.logTail(30)}`;
      assert.match(rd.details, /not failing over/, story);
      assert.equal(status.servers.john?.status, 'warning', story);
      assert.match(status.servers.john?.status_message ?? '', /HandyRep cannot reach it; replicas see it \(george, paul\)/, story);
      assert.equal(status.cluster.status, 'warning', story);
      assert.equal(primary.statusCode, 200, `${primary.body}${story}`);
    }
    const log = await hr.read_log(500);
    const downs = log.filter((e) => e.category === 'CLUSTER' && /→ down/.test(e.message));
    assert.deepEqual(downs, [], 'the cluster never went down');
    assert.deepEqual(await hr.failover_history(5), []);

    await waitUntil(async () => alertLines(alerts).length >= 1, 'the episode alert delivered', 10_000);
    await sleep(1500); // anything else queued would be delivered by now
    const during = alertLines(alerts);
    assert.equal(during.length, 1, `exactly one alert for the episode:\n${during.join('\n')}\n  ${transcript.join('\n  ')}`);
    assert.match(during[0] ?? '', /^WARNING\|FAILOVER\|john\|master john: HandyRep cannot reach it; replicas see it \(george, paul\)/);

    heal(bed.node('john').host);
    await checkUntil(hr, (rd) => rd.result === 'SUCCESS', { cycles: 5, what: 'master check succeeds after heal' });
    assert.equal((await hr.get_status()).servers.john?.status, 'healthy', 'the answer lifts the cut-off warning');
    assert.equal((await app.inject({ method: 'GET', url: '/primary/john' })).statusCode, 200);
    await waitUntil(async () => alertLines(alerts).length >= 2, 'the end-of-episode alert delivered', 10_000);
    await sleep(1000);
    const all = alertLines(alerts);
    assert.equal(all.length, 2, all.join('\n'));
    assert.match(all[1] ?? '', /^WARNING\|STATUS\|john\|master john: HandyRep reaches it again/);
    console.log(`# cycles:\n#   ${transcript.join('\n#   ')}\n# alerts:\n#   ${all.join('\n#   ')}`);
  } finally {
    await app.close();
    await closeBed(bed);
    rmSync(dir, { recursive: true, force: true });
  }
});
