/**
 * How a CLI command reaches HandyRep: over HTTP to a daemon (`POST <url>/<function>` with a JSON
 * body, HTTP Basic auth), or in this process through the library (`--local`: HandyRep.open +
 * invokeOperation, which takes the state lock). Both turn every failure into a CliError with the
 * exit code it means:
 *
 * | what happened | exit |
 * | --- | --- |
 * | 200: the function ran (its RD may say FAIL: the caller decides) | 0 / 1 |
 * | 400 bad parameter, 404 unknown server or function | 2, with the daemon's message |
 * | 401 no or wrong password, 403 read password on an admin function | 1, "authentication failed" / "needs the admin password" |
 * | 403 FORBIDDEN: a setting the web API refuses (configuration file only) | 1, with the daemon's message |
 * | 409 refused in the current state, 5xx | 1 |
 * | connection refused, unknown host, TLS failure, no answer in time, not a HandyRep daemon | 3 |
 * | `--local`: the state file is locked (a daemon runs) | 4 |
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { CliError, usageError } from './cli-error.js';
import type { ClientSettings } from './connection.js';
import { EXIT } from './exit-codes.js';

export interface CallOptions {
  /** How long to wait for the answer, in ms (default: the transport's). */
  timeoutMs?: number;
}

export interface Transport {
  /** The daemon's URL, or "library mode (<config file>)". */
  readonly where: string;
  readonly local: boolean;
  call(name: string, params: Readonly<Record<string, unknown>>, options?: CallOptions): Promise<unknown>;
  close(): Promise<void>;
}

/** The daemon's error body (an RD naming what was wrong). */
interface ErrorBody {
  result?: string;
  details?: string;
  parameter?: string;
  code?: string;
}

/**
 * Web forms whose HTTP parameters differ from the library's (src/daemon/web-forms.ts): the web
 * get_setting takes `category` (default handyrep) and `setting`.
 */
export function toWireParams(name: string, params: Readonly<Record<string, unknown>>): Record<string, unknown> {
  if (name !== 'get_setting' || !Object.hasOwn(params, 'setting_name')) return { ...params };
  const setting = params['setting_name'];
  if (typeof setting === 'string') return { setting };
  if (Array.isArray(setting) && setting.length === 1) return { setting: setting[0] };
  if (Array.isArray(setting) && setting.length === 2) return { category: setting[0], setting: setting[1] };
  throw usageError('get_setting: over HTTP a setting is <key> (of the handyrep section) or <section> <key>');
}

const NETWORK_REASONS: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'connection refused',
  ENOTFOUND: 'unknown host',
  EAI_AGAIN: 'host name lookup failed',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ECONNRESET: 'connection reset',
  EPIPE: 'connection closed',
  ETIMEDOUT: 'connection timed out',
};

function networkReason(err: NodeJS.ErrnoException): string {
  const known = err.code ? NETWORK_REASONS[err.code] : undefined;
  if (known) return known;
  if (/wrong version number|ssl|tls|certificate/i.test(err.message)) return `TLS: ${err.message} (an https:// URL for a plain-HTTP daemon, or the reverse? an untrusted certificate: NODE_EXTRA_CA_CERTS)`;
  return err.message;
}

/** A daemon over HTTP(S). */
export function httpTransport(settings: ClientSettings, defaults: { connectTimeoutMs: number; timeoutMs: number }): Transport {
  const base = new URL(`${settings.url}/`);
  const unreachable = (reason: string): CliError =>
    new CliError(EXIT.UNREACHABLE, `cannot reach the HandyRep daemon at ${settings.url}: ${reason}\n(is it running? give its address with --url, HANDYREP_URL or the client configuration)`);

  const send = (name: string, body: string, timeoutMs: number): Promise<{ status: number; text: string }> =>
    new Promise((resolve, reject) => {
      const tls = base.protocol === 'https:';
      const headers: Record<string, string> = {
        'content-type': 'application/json',
        'content-length': String(Buffer.byteLength(body)),
        accept: 'application/json',
      };
      if (settings.password !== null) {
        headers['authorization'] = `Basic ${Buffer.from(`${settings.user}:${settings.password}`).toString('base64')}`;
      }
      const req = (tls ? httpsRequest : httpRequest)(
        new URL(encodeURIComponent(name), base),
        { method: 'POST', headers, agent: false },
        (res: IncomingMessage) => {
          clearTimeout(connectTimer);
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => {
            clearTimeout(replyTimer);
            resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') });
          });
          res.on('error', (err) => {
            clearTimeout(replyTimer);
            reject(unreachable(networkReason(err)));
          });
        },
      );
      const connectTimer = setTimeout(() => req.destroy(Object.assign(new Error('connect timeout'), { code: 'ETIMEDOUT' })), defaults.connectTimeoutMs);
      const replyTimer = setTimeout(() => {
        req.destroy(Object.assign(new Error('no answer'), { code: 'HANDYREP_NO_ANSWER' }));
      }, timeoutMs);
      req.on('socket', (socket) => {
        socket.once(tls ? 'secureConnect' : 'connect', () => clearTimeout(connectTimer));
      });
      req.on('error', (err: NodeJS.ErrnoException) => {
        clearTimeout(connectTimer);
        clearTimeout(replyTimer);
        if (err.code === 'HANDYREP_NO_ANSWER') {
          reject(new CliError(EXIT.UNREACHABLE, `the HandyRep daemon at ${settings.url} did not answer ${name} within ${Math.round(timeoutMs / 1000)} s (--timeout); an action may still be running on the controller: check with "handyrep status" and "handyrep history"`));
        } else {
          reject(unreachable(networkReason(err)));
        }
      });
      req.end(body);
    });

  return {
    where: settings.url,
    local: false,
    async call(name, params, options = {}) {
      const body = JSON.stringify(toWireParams(name, params));
      const { status, text } = await send(name, body, options.timeoutMs ?? defaults.timeoutMs);
      let reply: unknown;
      try {
        reply = JSON.parse(text);
      } catch {
        throw new CliError(EXIT.UNREACHABLE, `${settings.url} answered ${name} with HTTP ${status} and no JSON: is it a HandyRep daemon? (${text.slice(0, 120).trim()})`);
      }
      if (status === 200) return reply;
      const error = (typeof reply === 'object' && reply !== null ? reply : {}) as ErrorBody;
      const details = error.details ?? `HTTP ${status}`;
      switch (status) {
        case 400:
        case 404:
          throw usageError(`${name}: ${details}`, reply);
        case 401:
          throw new CliError(
            EXIT.FAILURE,
            settings.password === null
              ? `authentication failed: the daemon at ${settings.url} needs a password (--password, HANDYREP_PASSWORD or the client configuration)`
              : `authentication failed: the daemon at ${settings.url} refused the password (${details})`,
            reply,
          );
        case 403:
          if (error.code === 'FORBIDDEN') throw new CliError(EXIT.FAILURE, `${name}: ${details}`, reply);
          throw new CliError(EXIT.FAILURE, `${name} needs the admin password: the password given is only allowed read-only functions (${details})`, reply);
        case 409:
          throw new CliError(EXIT.FAILURE, `FAIL: ${details}`, reply);
        default:
          throw new CliError(EXIT.FAILURE, `${name}: the daemon answered HTTP ${status}: ${details}`, reply);
      }
    },
    async close() {},
  };
}

/** The library in this process (`--local`): takes the state lock for as long as the command runs. */
export async function localTransport(configFile: string): Promise<Transport> {
  const [{ HandyRep }, { invokeOperation }, { HandyRepError }] = await Promise.all([
    import('../api/handyrep.js'),
    import('../api/invoke.js'),
    import('../model/errors.js'),
  ]);
  let hr: Awaited<ReturnType<typeof HandyRep.open>>;
  try {
    hr = await HandyRep.open(configFile);
  } catch (err) {
    if (err instanceof HandyRepError) {
      switch (err.code) {
        case 'LOCKED':
          throw new CliError(
            EXIT.LOCKED,
            `cannot run in library mode (--local): ${err.message}.\nA HandyRep daemon (or another --local command) manages this cluster and holds the state lock; go through the daemon instead: drop --local and give its address (--url or HANDYREP_URL).`,
          );
        case 'CONFIG_INVALID':
        case 'CONFIG_UNREADABLE':
        case 'PLUGIN_LOAD':
          throw new CliError(EXIT.CONFIG, `configuration problem (${err.code}):\n${err.message}`);
        default:
          throw new CliError(EXIT.FAILURE, `cannot open HandyRep with ${configFile} (${err.code}): ${err.message}`);
      }
    }
    throw err;
  }
  return {
    where: `library mode (${configFile})`,
    local: true,
    async call(name, params) {
      try {
        return await invokeOperation(hr, name, params, 'controller');
      } catch (err) {
        if (!(err instanceof HandyRepError)) throw err;
        switch (err.code) {
          case 'INVALID_PARAMETER':
          case 'UNKNOWN_SERVER':
          case 'UNKNOWN_FUNCTION':
            throw usageError(err.message, { result: 'FAIL', details: err.message, code: err.code });
          default:
            throw new CliError(EXIT.FAILURE, `FAIL: ${err.message}`, { result: 'FAIL', details: err.message, code: err.code });
        }
      }
    },
    async close() {
      await hr.close();
    },
  };
}
