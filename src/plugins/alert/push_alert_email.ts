/**
 * push_alert_email: mail each alert through an SMTP relay (nodemailer). Subject
 * `<subject>: <cluster> <type> <category>`; the body has the message, the server and the time.
 * The relay password is `passwords.smtp_pass`, sent only to the relay.
 */
import { z } from 'zod';
import { hostnameSchema } from '../../config/validators.js';
import { describeError } from '../../model/errors.js';
import { pluginSettings } from '../settings.js';
import { settingsCheck, type ConfigCheckedPlugin } from '../config-check.js';
import type { AlertPlugin } from '../types.js';

const NAME = 'push_alert_email';

// Deliberately plain: one mailbox, no display names, nothing a header could be smuggled through.
const address = z.string().regex(/^[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+$/, 'must be an e-mail address (name@host)');

const settingsSchema = z
  .object({
    email_to: z.union([address, z.array(address).min(1)]).describe('Recipient, or a list of them.'),
    email_from: address.describe('Sender address.'),
    subject: z.string().max(100).refine((s) => !/[\r\n]/.test(s), 'must be one line').default('HandyRep').describe('Subject prefix.'),
    smtpserver: hostnameSchema.default('localhost').describe('SMTP relay.'),
    smtpport: z.number().int().min(1).max(65535).default(25).describe('SMTP port.'),
    username: z.string().min(1).nullable().default(null).describe('Login at the relay (password: passwords.smtp_pass); null = no login.'),
    use_ssl: z.boolean().default(false).describe('TLS from the first byte (port 465 style).'),
    use_tls: z.boolean().default(false).describe('Require STARTTLS.'),
    timeout_seconds: z.number().positive().max(120).default(10).describe('Give up on the relay after this long.'),
  })
  .strict();

export const pushAlertEmail: AlertPlugin & ConfigCheckedPlugin = {
  name: NAME,
  kind: 'alert',
  description: 'Mails each alert through an SMTP relay.',
  checkConfig: settingsCheck(NAME, settingsSchema),
  async push(ctx, alert) {
    const s = pluginSettings(ctx, NAME, settingsSchema);
    const password = ctx.config.passwords['smtp_pass'] ?? '';
    // Loaded on the first mail only: an idle daemon without e-mail alerts does not carry it (~15 MB RSS).
    const { default: nodemailer } = await import('nodemailer');
    const transport = nodemailer.createTransport({
      host: s.smtpserver,
      port: s.smtpport,
      secure: s.use_ssl,
      requireTLS: s.use_tls,
      auth: s.username === null ? undefined : { user: s.username, pass: password },
      connectionTimeout: s.timeout_seconds * 1000,
      greetingTimeout: s.timeout_seconds * 1000,
      socketTimeout: s.timeout_seconds * 1000,
    });
    try {
      await transport.sendMail({
        from: s.email_from,
        to: s.email_to,
        subject: `${s.subject}: ${alert.cluster} ${alert.type} ${alert.category}`,
        text: `${alert.message}\n\nserver: ${alert.server ?? '(cluster)'}\ncluster: ${alert.cluster}\ntime: ${alert.ts}\n`,
      });
      return { ok: true, details: `mailed to ${[s.email_to].flat().join(', ')} through ${s.smtpserver}:${s.smtpport}` };
    } catch (err) {
      return { ok: false, details: `${s.smtpserver}:${s.smtpport}: ${describeError(err)}` };
    } finally {
      transport.close();
    }
  },
};
