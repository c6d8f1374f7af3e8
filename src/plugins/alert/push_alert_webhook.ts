/**
 * push_alert_webhook: POST each alert as JSON to a URL (Slack-style incoming webhooks, an
 * Alertmanager bridge, a paging service). A 2xx answer is delivery; anything else is a failure.
 */
import { z } from 'zod';
import { describeError } from '../../model/errors.js';
import { pluginSettings } from '../settings.js';
import { settingsCheck, type ConfigCheckedPlugin } from '../config-check.js';
import type { AlertPlugin } from '../types.js';

const NAME = 'push_alert_webhook';

const headerName = /^[A-Za-z0-9-]{1,64}$/;

const settingsSchema = z
  .object({
    url: z
      .string()
      .refine((u) => URL.canParse(u) && ['http:', 'https:'].includes(new URL(u).protocol), 'must be an http:// or https:// URL')
      .describe('Where to POST the alert.'),
    headers: z
      .record(z.string().regex(headerName, 'must be a header name'), z.string().refine((v) => !/[\r\n]/.test(v), 'must be one line'))
      .default({})
      .describe('Extra request headers (e.g. an Authorization token).'),
    timeout_seconds: z.number().positive().max(60).default(5).describe('Give up after this long.'),
  })
  .strict();

export const pushAlertWebhook: AlertPlugin & ConfigCheckedPlugin = {
  name: NAME,
  checkConfig: settingsCheck(NAME, settingsSchema),
  kind: 'alert',
  description: 'POSTs each alert as JSON to a URL.',
  async push(ctx, alert) {
    const settings = pluginSettings(ctx, NAME, settingsSchema);
    const where = new URL(settings.url).origin;
    try {
      const response = await fetch(settings.url, {
        method: 'POST',
        headers: { ...settings.headers, 'content-type': 'application/json' },
        body: JSON.stringify(alert),
        signal: AbortSignal.timeout(settings.timeout_seconds * 1000),
      });
      await response.arrayBuffer().catch(() => undefined);
      if (response.ok) return { ok: true, details: `${where} accepted the alert (${response.status})` };
      return { ok: false, details: `${where} answered ${response.status}` };
    } catch (err) {
      return { ok: false, details: `${where}: ${describeError(err)}` };
    }
  },
};
