/**
 * Alerts on a real 2-node cluster: a replica SIGKILLed raises WARNING alerts (its status, the
 * cluster's), delivered by push_alert_command (a real program on the controller) and by
 * push_alert_webhook (a real HTTP server on loopback) and push_alert_email (a real SMTP server,
 * smtp-server from npm, with login); a failed delivery is logged, not looped;
 * a bad alert configuration is refused at open, naming the key.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { chmodSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { HandyRep } from '../../src/api/handyrep.js';
import type { Alert } from '../../src/plugins/types.js';
import { startCluster, type TestCluster, type TestNode } from '../fixtures/cluster.js';
import { crash, healAll } from '../fixtures/faults.js';
import { waitFor } from '../fixtures/failover-settings.js';
import { writeConfig } from '../fixtures/handyrep-config.js';

let cluster: TestCluster;
let hr: HandyRep | null = null;
let receiver: Server;
let receiverUrl = '';
let receiverStatus = 204;
const received: Alert[] = [];

function node(name: string): TestNode {
  const n = cluster.nodes.find((x) => x.name === name);
  if (!n) throw new Error(`no node ${name}`);
  return n;
}

async function openWith(overrides: Record<string, unknown>): Promise<HandyRep> {
  await hr?.close();
  hr = await HandyRep.open(await writeConfig(cluster, overrides));
  await hr.init_handyrep_db();
  assert.equal((await hr.verify_all()).result, 'SUCCESS');
  return hr;
}

/** Crashes paul and polls it, which turns it (and the cluster) to a worse status: alerts. */
async function crashPaul(h: HandyRep): Promise<void> {
  await crash(node('paul'));
  assert.equal((await h.poll('paul')).status, 'down');
}

before(async () => {
  cluster = await startCluster({ nodes: 2 });
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push(JSON.parse(Buffer.concat(chunks).toString('utf8')) as Alert);
      res.statusCode = receiverStatus;
      res.end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks/T0K3N`;
});

after(async () => {
  await hr?.close();
  await new Promise((resolve) => receiver?.close(resolve));
  await healAll();
  await cluster?.stop();
});

test('push_alert_command: the alert reaches the program as arguments and JSON on stdin', async () => {
  const lines = join(cluster.root, 'alerts.txt');
  const json = join(cluster.root, 'alerts.json');
  const script = join(cluster.root, 'page-oncall.sh');
  writeFileSync(script, `#!/bin/sh\nprintf '%s|%s|%s|%s\\n' "$1" "$2" "$3" "$4" >> '${lines}'\ncat >> '${json}'\n`);
  chmodSync(script, 0o755);
  const h = await openWith({ handyrep: { push_alert_method: 'push_alert_command' }, plugins: { push_alert_command: { command: [script] } } });
  await crashPaul(h);
  await waitFor(async () => existsSync(lines) && /^WARNING\|CLUSTER\|\|/m.test(readFileSync(lines, 'utf8')), 'the cluster alert delivered', 10_000);
  const text = readFileSync(lines, 'utf8');
  assert.match(text, /^WARNING\|STATUS\|paul\|paul status changed healthy → down/m);
  const first = JSON.parse(readFileSync(json, 'utf8').split('\n')[0] ?? '{}') as Alert;
  assert.equal(first.cluster, 'handyrep');
  assert.equal(first.type, 'WARNING');
  assert.equal(first.server, 'paul');
  assert.equal((await h.startup('paul')).result, 'SUCCESS');
  await waitFor(async () => (await h.verify_server('paul')).status === 'healthy', 'paul healthy again');
});

test('push_alert_webhook: the alert is POSTed as JSON; a failed delivery is logged, never alerted', async () => {
  const h = await openWith({ handyrep: { push_alert_method: 'push_alert_webhook' }, plugins: { push_alert_webhook: { url: receiverUrl, headers: { 'X-Team': 'db' } } } });
  received.length = 0;
  await crashPaul(h);
  await waitFor(async () => received.some((a) => a.category === 'STATUS' && a.server === 'paul'), 'the status alert received', 10_000);
  const alert = received.find((a) => a.category === 'STATUS');
  assert.equal(alert?.type, 'WARNING');
  assert.match(alert?.message ?? '', /healthy → down/);

  receiverStatus = 500;
  received.length = 0;
  assert.equal((await h.startup('paul')).result, 'SUCCESS');
  await waitFor(async () => (await h.verify_server('paul')).status === 'healthy', 'paul healthy again');
  await crashPaul(h);
  await waitFor(async () => (await h.read_log(50)).some((e) => e.category === 'ALERT' && /not delivered/.test(e.message)), 'the failed delivery logged', 10_000);
  const log = await h.read_log(200);
  const failures = log.filter((e) => e.category === 'ALERT');
  assert.ok(failures.every((e) => e.alert === undefined), 'a failed delivery raises no alert of its own');
  assert.ok(failures.every((e) => !e.message.includes('T0K3N')), 'the webhook path (often a secret) is not logged');
  receiverStatus = 204;
  assert.equal((await h.startup('paul')).result, 'SUCCESS');
  await waitFor(async () => (await h.verify_server('paul')).status === 'healthy', 'paul healthy again');
});

test('push_alert_email: the alert is mailed through an SMTP relay that requires a login', async () => {
  const mails: { from: string; to: string[]; data: string; user: string }[] = [];
  const smtp = new SMTPServer({
    authMethods: ['PLAIN', 'LOGIN'],
    allowInsecureAuth: true,
    disabledCommands: ['STARTTLS'],
    onAuth(auth, _session, callback) {
      if (auth.username === 'alerts' && auth.password === 'smtp-s3cret') callback(null, { user: auth.username });
      else callback(new Error('invalid login'));
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        mails.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          data: Buffer.concat(chunks).toString('utf8'),
          user: String(session.user),
        });
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', resolve));
  const port = (smtp.server.address() as AddressInfo).port;
  try {
    const h = await openWith({
      handyrep: { push_alert_method: 'push_alert_email', cluster_name: 'prod' },
      passwords: { smtp_pass: 'smtp-s3cret' },
      plugins: { push_alert_email: { email_to: ['dba@example.org'], email_from: 'handyrep@example.org', smtpserver: '127.0.0.1', smtpport: port, username: 'alerts' } },
    });
    await crashPaul(h);
    await waitFor(async () => mails.some((m) => m.data.includes('Subject: HandyRep: prod WARNING STATUS')), 'the status alert mailed', 15_000);
    const mail = mails.find((m) => m.data.includes('WARNING STATUS'));
    assert.equal(mail?.from, 'handyrep@example.org');
    assert.deepEqual(mail?.to, ['dba@example.org']);
    assert.equal(mail?.user, 'alerts');
    assert.match(mail?.data ?? '', /paul status changed healthy/);
    assert.ok((await h.read_log(200)).every((e) => !e.message.includes('smtp-s3cret')), 'the relay password is never logged');
    assert.equal((await h.startup('paul')).result, 'SUCCESS');
    await waitFor(async () => (await h.verify_server('paul')).status === 'healthy', 'paul healthy again');
  } finally {
    await new Promise<void>((resolve) => smtp.close(() => resolve()));
  }
});

test('a bad alert configuration is refused at open, naming the key', async () => {
  await hr?.close();
  hr = null;
  const noCommand = await writeConfig(cluster, { handyrep: { push_alert_method: 'push_alert_command' } }, 'bad-alert-1.yaml');
  await assert.rejects(HandyRep.open(noCommand), /plugins\.push_alert_command\.command/);
  const badUrl = await writeConfig(cluster, { handyrep: { push_alert_method: 'push_alert_webhook' }, plugins: { push_alert_webhook: { url: 'ftp://example/x' } } }, 'bad-alert-2.yaml');
  await assert.rejects(HandyRep.open(badUrl), /plugins\.push_alert_webhook\.url: must be an http/);
  const unknown = await writeConfig(cluster, { handyrep: { push_alert_method: 'page_someone' } }, 'bad-alert-3.yaml');
  await assert.rejects(HandyRep.open(unknown), /handyrep\.push_alert_method: no plugin named "page_someone"/);
});
