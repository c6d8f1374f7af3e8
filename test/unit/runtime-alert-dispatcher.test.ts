/** The alert queue: order, delivery off the caller's path, overflow, and no alert about alerts. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { configSchema, type HandyRepConfig } from '../../src/config/schema.js';
import { EventLog } from '../../src/log/event-log.js';
import { PluginRegistry } from '../../src/plugins/registry.js';
import type { Alert, AlertPlugin, PluginContext } from '../../src/plugins/types.js';
import { AlertDispatcher } from '../../src/runtime/alerts/alert-dispatcher.js';

function setup(behaviour: (alert: Alert) => Promise<boolean>): { log: EventLog; seen: Alert[]; dispatcher: AlertDispatcher } {
  const seen: Alert[] = [];
  const plugin: AlertPlugin = {
    name: 'record_alerts',
    kind: 'alert',
    description: 'test',
    async push(_ctx, alert) {
      seen.push(alert);
      return (await behaviour(alert)) ? { ok: true, details: 'ok' } : { ok: false, details: 'refused' };
    },
  };
  const registry = new PluginRegistry([plugin]);
  const config: HandyRepConfig = configSchema.parse({ handyrep: { push_alert_method: 'record_alerts', cluster_name: 'prod' } });
  const ctx = { config } as unknown as PluginContext;
  const log = new EventLog({ file: null, tailSize: 500, verbose: true });
  return { log, seen, dispatcher: new AlertDispatcher({ plugins: registry, ctx: () => ctx, log }) };
}

test('alerts go out in order with the cluster name; entries without an alert type do not', async () => {
  const { log, seen, dispatcher } = setup(async () => true);
  log.info('STATUS', 'nothing to see');
  log.error('STATUS', 'paul down', 'paul', 'WARNING');
  log.error('CLUSTER', 'cluster down', undefined, 'CRITICAL');
  await dispatcher.close(1000);
  assert.deepEqual(seen.map((a) => [a.type, a.category, a.server, a.cluster]), [
    ['WARNING', 'STATUS', 'paul', 'prod'],
    ['CRITICAL', 'CLUSTER', null, 'prod'],
  ]);
  assert.equal(dispatcher.counts.delivered, 2);
});

test('the caller never waits for delivery', () => {
  const { log, seen } = setup(() => new Promise(() => undefined));
  const started = performance.now();
  log.error('STATUS', 'paul down', 'paul', 'WARNING');
  assert.ok(performance.now() - started < 50);
  assert.equal(seen.length, 1);
});

test('overflow drops the oldest and the next delivered alert says how many', async () => {
  let release: () => void = () => undefined;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const { log, seen, dispatcher } = setup(async (alert) => {
    if (alert.message === 'first') await gate;
    return true;
  });
  log.error('X', 'first', undefined, 'WARNING');
  for (let i = 0; i < 105; i++) log.error('X', `alert ${i}`, undefined, 'WARNING');
  release();
  await dispatcher.close(2000);
  assert.equal(dispatcher.counts.dropped, 5);
  assert.match(seen[1]?.message ?? '', /^alert 5 \(5 earlier alerts were dropped/);
  assert.equal(seen.at(-1)?.message, 'alert 104');
});

test('a failed delivery is logged without an alert of its own', async () => {
  const { log, seen, dispatcher } = setup(async () => false);
  log.error('STATUS', 'paul down', 'paul', 'WARNING');
  await dispatcher.close(1000);
  assert.equal(seen.length, 1, 'no second alert about the failure');
  const failure = log.recent(10).find((e) => e.category === 'ALERT');
  assert.match(failure?.message ?? '', /not delivered by record_alerts: refused/);
  assert.equal(failure?.alert, undefined);
  assert.equal(dispatcher.counts.failed, 1);
});
