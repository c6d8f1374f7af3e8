/**
 * Errors as HTTP replies. Bad input is the caller's fault and gets a 4xx RD naming what was wrong;
 * anything unexpected is a 500 RD "internal error" whose cause goes to the log, never to the
 * caller (it may hold details of the nodes). An RD with result FAIL from an operation that ran is
 * not an error: it is sent with 200 by the operation route.
 */
import { HandyRepError } from '../model/errors.js';
import type { DaemonLog } from './backend.js';

/** The body of every error reply: an RD with result FAIL, plus what it is about. */
export interface ErrorRd {
  result: 'FAIL';
  details: string;
  /** The parameter (as the caller wrote it) that was missing or wrong; `(body)` for the body as a whole. */
  parameter?: string;
  /** The function the caller asked for, when it does not exist. */
  function?: string;
  /** The HandyRep error code, for 403s and 409s. */
  code?: string;
}

/** An error as HTTP: status and RD. */
export interface ErrorReply {
  status: number;
  body: ErrorRd;
}

/** What a parameter-less error is about, so its parameter can still be named. */
export interface ErrorContext {
  functionName: string;
  /** Names the caller used for the parameters, for naming the one an error is about. */
  wireNames: readonly string[];
  /** The values given, by wire name, to find the one an error message quotes. */
  given: Readonly<Record<string, unknown>>;
  /** Maps a library parameter name to the name the caller used (web forms rename some). */
  wireName?: (libraryName: string) => string;
  /** The function takes server settings as extra keys (add_server?servername=x&port=5433). */
  acceptsExtraKeys?: boolean;
  /** The parameter an error that names none is about (a web form's main parameter). */
  defaultParameter?: string;
}

/** An INVALID_PARAMETER error that names its parameter (what parseParams attaches too). */
export function invalidParameter(parameter: string, message: string): HandyRepError & { parameter: string } {
  return Object.assign(new HandyRepError('INVALID_PARAMETER', message), { parameter });
}

/** Status and RD for anything a route threw; unexpected errors are logged here, once. */
export function replyForError(err: unknown, context: ErrorContext, log: DaemonLog): ErrorReply {
  if (err instanceof HandyRepError) {
    switch (err.code) {
      case 'INVALID_PARAMETER':
        return { status: 400, body: { result: 'FAIL', details: err.message, parameter: parameterOf(err, context) } };
      case 'UNKNOWN_SERVER':
        return { status: 404, body: { result: 'FAIL', details: err.message, parameter: parameterOf(err, context) } };
      case 'UNKNOWN_FUNCTION':
        return { status: 404, body: { result: 'FAIL', details: err.message, function: context.functionName } };
      case 'FORBIDDEN':
        return { status: 403, body: { result: 'FAIL', details: err.message, parameter: parameterOf(err, context), code: err.code } };
      case 'NOT_LEADER':
      case 'STORE_UNREACHABLE':
        // A follower (or a controller cut off from etcd): try the leader named in the message.
        return { status: 503, body: { result: 'FAIL', details: err.message, code: err.code } };
      case 'REFUSED':
      case 'LOCKED':
        return { status: 409, body: { result: 'FAIL', details: err.message, code: err.code } };
      default:
        break;
    }
  }
  log.error('DAEMON', `${context.functionName}: internal error: ${describeForLog(err)}`);
  return { status: 500, body: { result: 'FAIL', details: 'internal error (logged on the controller)' } };
}

function describeForLog(err: unknown): string {
  if (err instanceof HandyRepError) return `${err.code}: ${err.message}`;
  if (err instanceof Error) return err.stack ?? err.message;
  return String(err);
}

/**
 * The parameter an error is about, as the caller named it: the one the error carries, else the
 * first parameter the message cites as `name:` (for functions taking server settings as extra
 * keys, any cited setting), else the context's default, else the one whose value the message
 * quotes, else the first given.
 */
export function parameterOf(err: HandyRepError, context: ErrorContext): string {
  const rename = context.wireName ?? ((name: string) => name);
  const carried = (err as { parameter?: unknown }).parameter;
  if ((typeof carried === 'string' && carried !== '') || typeof carried === 'number') return rename(String(carried));
  const values = new Set(Object.values(context.given).filter((v): v is string => typeof v === 'string'));
  const cited = [...err.message.matchAll(/([A-Za-z_][A-Za-z0-9_]*):/g)]
    .map((m) => m[1] as string)
    .filter((word) => word !== context.functionName && !values.has(word));
  const known = cited.find((word) => context.wireNames.includes(word) || Object.hasOwn(context.given, word));
  if (known !== undefined) return rename(known);
  if (context.acceptsExtraKeys && cited[0] !== undefined) return cited[0];
  if (context.defaultParameter !== undefined) return context.defaultParameter;
  const quoted = Object.entries(context.given).find(([, v]) => typeof v === 'string' && v !== '' && err.message.includes(`"${v}"`));
  if (quoted) return quoted[0];
  return Object.keys(context.given)[0] ?? context.wireNames[0] ?? '(parameters)';
}
