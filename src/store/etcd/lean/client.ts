/**
 * A small gRPC client for the agent's hot path only (the lease keep-alive stream and the member
 * record's transaction; everything else stays on the etcd3 package), over HTTP/2 framed by hand
 * (h2/session.ts). Why: the etcd3/grpc-js stack costs an idle agent about 0.1 % of a core more per
 * renewal a second, and a node:http2 stream per call about 0.5 ms of CPU more, than the same calls
 * framed by hand (docs/node-agent.md, "Idle cost and crash detection", "seventh look").
 *
 * Robustness it keeps from the client it replaces: one HTTP/2 session at a time, to one endpoint
 * of etcd.endpoints; a transport error, a missed attempt deadline or a member answering that it
 * cannot serve (no leader, unavailable) drops that session and the next attempt goes to the next
 * endpoint, within the call's own deadline. TLS (https endpoints; etcd.ca, cert, key) and auth
 * (etcd.user: Authenticate once, the `token` metadata on every call, a new token when etcd says
 * it is invalid or expired). Every call carries `hasleader: true`, so a member cut off from its
 * leader refuses at once instead of holding the call. A failure is a rejected call, never an
 * unhandled event (the master's agent must not crash): the session reports its own failures.
 */
import { HandyRepError } from '../../../model/errors.js';
import { CallHeaders, FrameDecoder, grpcFrame, judgeStatus, type StatusVerdict } from './frames.js';
import { encodeHeaderBlock, fieldAppender } from './h2/hpack.js';
import { H2Session, type H2Stream, type H2StreamHandlers, type HeaderFields } from './h2/session.js';
import { decodeAuthenticate, encodeAuthenticate } from './messages.js';

export interface LeanEtcdSettings {
  /** `http://host:port` or `https://host:port` (one scheme for all, as the configuration checks). */
  readonly endpoints: readonly string[];
  /** PEM contents; ca null = the system CAs. Used for https endpoints. */
  readonly tls: { readonly ca: Buffer | null; readonly cert: Buffer | null; readonly key: Buffer | null } | null;
  readonly auth: { readonly user: string; readonly password: string } | null;
}

/** A failed attempt and what it means: try the next member, get a new token, or give up (etcd's answer). */
export class LeanCallError extends Error {
  constructor(
    /** out_of_time: too little of the attempt was left to start its call (no member's fault; the call ends). */
    readonly verdict: Exclude<StatusVerdict, 'ok'> | 'out_of_time',
    message: string,
  ) {
    super(message);
  }
}

/**
 * An attempt gets half the call's deadline (at least 100 ms): a frozen or cut-off member is
 * skipped within one call, while a member slow under load (an fsync, a busy host) still has most
 * of the time to answer: a missed attempt drops the whole session, the keep-alive stream with it.
 */
export function attemptMsOf(callMs: number): number {
  return Math.max(100, Math.floor(callMs / 2));
}

/**
 * `ms` when it is a fair share of an attempt, else an out_of_time error: a sliver (the rest after a
 * slow token fetch) would time out on a healthy member and drop its session.
 */
export function enoughLeft(ms: number, callMs: number): number {
  if (ms < attemptMsOf(callMs) / 4) throw new LeanCallError('out_of_time', `only ${ms} ms of the attempt left after the token or the stream's opening`);
  return ms;
}

/** A call's deadline after its cached header block (the only header that changes every call). */
const withGrpcTimeout = fieldAppender('grpc-timeout');

/** Attempts per call at least (twice etcdClientOptions' CALL_ATTEMPTS); more when more endpoints are listed. */
const ATTEMPTS_PER_CALL = 6;
/** A failed attempt is followed by the next one this long after its start at the earliest. */
const FAST_RETRY_GAP_MS = 100;

export class LeanEtcd {
  #index = 0;
  #session: H2Session | null = null;
  #token: string | null = null;
  #authenticating: Promise<string> | null = null;
  #closed = false;
  /** The encoded request headers per endpoint, path and token (all but grpc-timeout): the same bytes every call. */
  readonly #headerBlocks = new Map<string, Buffer>();

  constructor(private readonly settings: LeanEtcdSettings) {
    if (settings.endpoints.length === 0) throw new HandyRepError('CONFIG_INVALID', 'etcd.endpoints: list the etcd endpoints');
  }

  /** The endpoint calls go to now (tests, logs). */
  get endpoint(): string {
    return this.settings.endpoints[this.#index] as string;
  }

  /**
   * One unary call: `message` to `path`, the reply message's bytes back. Attempts move through the
   * endpoints until one answers or `callMs` is spent; etcd refusing the request itself (not a
   * member fault) ends the call at once. Errors are STORE_UNREACHABLE HandyRepErrors naming `what`.
   */
  async call(what: string, path: string, message: Buffer, callMs: number): Promise<Buffer> {
    return this.retrying(what, callMs, async (left) => {
      const token = await this.token(left());
      return this.#unaryOnce(path, message, enoughLeft(left(), callMs), token);
    });
  }

  /**
   * Runs `attempt` until it succeeds, etcd refuses, `callMs` is spent, or ATTEMPTS_PER_CALL (at
   * least two per endpoint) failed, at least FAST_RETRY_GAP_MS apart: a member refusing fast ("no
   * leader" during a quorum loss) must not get a new connection per millisecond. `left()` is what remains of the attempt's own
   * deadline: its token fetch and its call share it, so no call outlasts `callMs`.
   */
  async retrying<T>(what: string, callMs: number, attempt: (left: () => number) => Promise<T>): Promise<T> {
    const deadline = performance.now() + callMs;
    const attemptMs = attemptMsOf(callMs);
    const maxAttempts = Math.max(ATTEMPTS_PER_CALL, 2 * this.settings.endpoints.length);
    const reasons: string[] = [];
    let last: unknown = null;
    for (let tried = 0; tried < maxAttempts && !this.#closed; tried++) {
      const startedMs = performance.now();
      const attemptEnd = Math.min(deadline, startedMs + attemptMs);
      // A sliver of an attempt would time out on a healthy member and drop its session (and hide
      // the real reason behind "did not answer within 2 ms").
      if (attemptEnd - performance.now() < attemptMs / 4) break;
      try {
        return await attempt(() => Math.max(1, Math.floor(attemptEnd - performance.now())));
      } catch (err) {
        last = err;
        const reason = err instanceof Error ? err.message : String(err);
        if (!reasons.includes(reason)) reasons.push(reason);
        if (err instanceof LeanCallError && err.verdict === 'refused') break;
        // Out of time after a slow token fetch: the token is cached now, so a full attempt may still fit.
        if (err instanceof LeanCallError && err.verdict === 'out_of_time' && deadline - performance.now() < attemptMs) break;
        // A fast refusal ("no leader" while the members elect one) is tried again after a pause, so
        // the attempts span an election instead of a few milliseconds.
        const pauseMs = Math.min(FAST_RETRY_GAP_MS - (performance.now() - startedMs), deadline - performance.now() - attemptMs / 4);
        if (pauseMs > 0) await new Promise((done) => setTimeout(done, pauseMs));
      }
    }
    if (this.#closed) reasons.push('the etcd client is closed');
    if (reasons.length === 0) reasons.push('no attempt could be made');
    const reason = reasons.slice(-3).join('; ');
    const refused = last instanceof LeanCallError && last.verdict === 'refused';
    const spent = performance.now() >= deadline - attemptMs / 4;
    const failed = spent ? `etcd did not answer within ${callMs} ms (${what})` : `etcd did not answer (${what}) in ${maxAttempts} attempts`;
    throw new HandyRepError('STORE_UNREACHABLE', refused ? `etcd refused (${what}): ${reason}` : `${failed}: unreachable or without quorum: ${reason}`, { cause: last });
  }

  /** The auth token for the next call (Authenticate once; null without etcd.user). */
  async token(attemptMs: number): Promise<string | null> {
    const auth = this.settings.auth;
    if (auth === null) return null;
    if (this.#token !== null) return this.#token;
    this.#authenticating ??= this.#unaryOnce('/etcdserverpb.Auth/Authenticate', encodeAuthenticate(auth.user, auth.password), attemptMs, null)
      .then((reply) => {
        const token = decodeAuthenticate(reply);
        if (token === '') throw new LeanCallError('refused', 'Authenticate answered no token (is auth enabled in etcd?)');
        this.#token = token;
        return token;
      })
      .finally(() => (this.#authenticating = null));
    return this.#authenticating;
  }

  /** etcd said `token` is invalid or expired: the next call authenticates again. */
  tokenRejected(token: string | null): void {
    if (token !== null && this.#token === token) this.#token = null;
  }

  /**
   * A request (a stream's start) on the current session; `handlers` hear its answer. Throws a
   * LeanCallError (member_fault) when no stream can be started there.
   */
  request(path: string, token: string | null, timeoutMs: number | null, handlers: H2StreamHandlers): { stream: H2Stream; session: H2Session; endpoint: string } {
    if (this.#closed) throw new LeanCallError('member_fault', 'the etcd client is closed');
    const endpoint = this.endpoint;
    let session: H2Session;
    try {
      session = this.#currentSession();
    } catch (err) {
      // tls.connect throws at once on unusable PEM contents: this endpoint's attempt fails like a member's.
      this.#index = (this.#index + 1) % this.settings.endpoints.length;
      throw new LeanCallError('member_fault', `cannot connect to ${endpoint}: ${(err as Error).message}`);
    }
    try {
      return { stream: session.request(this.#headerBlock(path, token, timeoutMs), handlers), session, endpoint };
    } catch (err) {
      this.fault(session);
      throw new LeanCallError('member_fault', `cannot start a call on ${endpoint}: ${(err as Error).message}`);
    }
  }

  #headerBlock(path: string, token: string | null, timeoutMs: number | null): Buffer {
    const key = `${this.endpoint}\n${path}\n${token ?? ''}`;
    let block = this.#headerBlocks.get(key);
    if (block === undefined) {
      // Tokens change (expiry, a new member): keep the last few only.
      if (this.#headerBlocks.size >= 16) this.#headerBlocks.clear();
      const url = new URL(this.endpoint);
      const fields: [string, string][] = [
        [':method', 'POST'],
        [':scheme', url.protocol === 'https:' ? 'https' : 'http'],
        [':path', path],
        [':authority', url.host],
        ['content-type', 'application/grpc'],
        ['te', 'trailers'],
        // etcd then refuses (Unavailable, "no leader") instead of holding a call a leaderless member cannot serve.
        ['hasleader', 'true'],
      ];
      if (token !== null) fields.push(['token', token]);
      block = encodeHeaderBlock(fields);
      this.#headerBlocks.set(key, block);
    }
    return timeoutMs === null ? block : withGrpcTimeout(block, `${Math.max(0, Math.floor(timeoutMs))}m`);
  }

  /** The error that broke `session`, as ": reason", or ''. */
  sessionError(session: H2Session): string {
    const reason = session.brokenBy;
    return reason === null ? '' : `: ${reason}`;
  }

  /** That session's member failed a call: drop the session; the next call goes to the next endpoint. */
  fault(session: H2Session): void {
    if (this.#session !== session) return;
    this.#session = null;
    this.#index = (this.#index + 1) % this.settings.endpoints.length;
    session.destroy('the member failed a call');
  }

  /** Closes the session; calls after this fail at once. */
  close(): void {
    this.#closed = true;
    const session = this.#session;
    this.#session = null;
    session?.destroy('the etcd client is closed');
  }

  #currentSession(): H2Session {
    if (this.#session !== null && this.#session.failure === null) return this.#session;
    const url = new URL(this.endpoint);
    // A session that breaks on its own (a TLS error, a refused connection, GOAWAY) is dropped; its streams fail their calls.
    const session: H2Session = new H2Session(url, url.protocol === 'https:' ? this.settings.tls : null, () => this.fault(session));
    this.#session = session;
    return session;
  }

  /** One attempt of a unary call on the current endpoint. */
  #unaryOnce(path: string, message: Buffer, attemptMs: number, token: string | null): Promise<Buffer> {
    return new Promise<Buffer>((resolve, reject) => {
      const decoder = new FrameDecoder();
      let reply: Buffer | null = null;
      let failure: LeanCallError | null = null;
      const heard = new CallHeaders();
      let settled = false;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const handlers: H2StreamHandlers = {
        headers: (fields: HeaderFields) => {
          const notGrpc = heard.take(fields);
          if (notGrpc !== null) failure ??= new LeanCallError('member_fault', `${call.endpoint} ${notGrpc}`);
        },
        data: (chunk: Buffer) => {
          try {
            for (const m of decoder.push(chunk)) reply = m;
          } catch (err) {
            failure ??= new LeanCallError('member_fault', (err as Error).message);
          }
        },
        closed: (why: string | null) => {
          if (why !== null) failure ??= new LeanCallError('member_fault', `${call.endpoint}: ${why}`);
          if (failure !== null) return settle(failure);
          const status = heard.status;
          if (status === null) return settle(new LeanCallError('member_fault', `${call.endpoint} ended the call without a gRPC status${this.sessionError(call.session)}`));
          const verdict = judgeStatus(status);
          if (verdict === 'ok' && decoder.partial) return settle(new LeanCallError('member_fault', `${call.endpoint} ended the call in the middle of a message`));
          if (verdict === 'ok') return settle(reply === null ? new LeanCallError('member_fault', `${call.endpoint} sent no reply message`) : null);
          settle(new LeanCallError(verdict, `${call.endpoint}: gRPC status ${status.code}: ${status.message}`));
        },
      };
      const call = this.request(path, token, attemptMs, handlers);
      const settle = (err: LeanCallError | null): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (err === null && reply !== null) return resolve(reply);
        const failed = err ?? new LeanCallError('member_fault', `${call.endpoint}: the call ended without a reply`);
        if (failed.verdict === 'member_fault') this.fault(call.session);
        if (failed.verdict === 'token_invalid') this.tokenRejected(token);
        call.stream.cancel();
        reject(failed);
      };
      timer = setTimeout(() => settle(new LeanCallError('member_fault', `${call.endpoint} did not answer within ${attemptMs} ms${this.sessionError(call.session)}`)), attemptMs);
      call.stream.write(grpcFrame(message), true);
    });
  }
}
