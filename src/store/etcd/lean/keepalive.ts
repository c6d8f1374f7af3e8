/**
 * The agent's lease keep-alive stream over the lean client (client.ts): one LeaseKeepAlive stream
 * kept open and shared by the agent's leases; a renewal writes the lease id and waits for the
 * answer to THAT write. etcd answers a stream's requests strictly in order (receive, renew, send),
 * so the answers for one lease id are matched to its writes first in, first out: overlapping
 * renewals of one lease each get the answer to their own write, never an older one (an older
 * answer would date the renewal by a later send). A missed attempt deadline, an error or the
 * stream's end drops the stream and the member's session (the next attempt opens a new one on the
 * next endpoint); a status saying the token is invalid gets a new token. The TTL comes back as
 * etcd sent it: ≤ 0 means the lease is gone (the caller's rule, agent-lease.ts).
 */
import http2, { type ClientHttp2Session, type ClientHttp2Stream, type IncomingHttpHeaders } from 'node:http2';
import { enoughLeft, LeanCallError, type LeanEtcd } from './client.js';
import { FrameDecoder, grpcFrame, judgeStatus, statusOf } from './frames.js';
import { decodeKeepAliveKeyed, encodeKeepAlive, keepAliveKeyOf } from './messages.js';

interface OpenStream {
  readonly stream: ClientHttp2Stream;
  readonly session: ClientHttp2Session;
  readonly endpoint: string;
  readonly token: string | null;
  /** Per lease id (its varint bytes, keepAliveKeyOf), the renewals written and not answered yet, oldest first. */
  readonly waiting: Map<string, Waiter[]>;
  /**
   * One deadline timer for the renewals in flight (the master and member leases' renewals written
   * in one tick share it): armed by a renewal when none is, cleared once no renewal is waiting (a
   * timer left to run past the round's next tick would wake the process once more); when it fires
   * it drops the stream if a renewal is past its deadline, else it waits for the earliest one left.
   */
  deadline: NodeJS.Timeout | null;
  /** When `deadline` fires, on performance.now()'s clock. */
  deadlineDueMs: number;
  /** Renewals written and not answered yet (all of `waiting`'s queues). */
  pending: number;
}

interface Waiter {
  /** performance.now() by which the answer must have come, else the stream (and its member's session) is dropped. */
  readonly dueMs: number;
  readonly waitMs: number;
  resolve(ttl: string): void;
  reject(err: LeanCallError): void;
}

/** The request bytes and the id as etcd's answers spell it (its varint bytes), per lease id given. */
interface LeaseFrame {
  readonly frame: Buffer;
  readonly key: string;
}

export class LeanKeepalive {
  #open: OpenStream | null = null;
  #opening: Promise<OpenStream> | null = null;
  /** The framed request per lease id: the same bytes every second, encoded once (an agent holds two leases). */
  readonly #frames = new Map<string, LeaseFrame>();

  constructor(private readonly etcd: LeanEtcd) {}

  /** Renews `leaseId`; its TTL in seconds as etcd answered ('0' or less: gone). Rejects with a STORE_UNREACHABLE error. */
  keepalive(leaseId: string, callMs: number, what = 'renew a lease'): Promise<string> {
    let lease: LeaseFrame;
    try {
      lease = this.#frameFor(leaseId);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.etcd.retrying(what, callMs, (left) => this.#once(lease, left, callMs));
  }

  /** Ends the stream (the agent stops; the client's close() ends the session). */
  close(): void {
    this.#drop(new LeanCallError('member_fault', 'closed'), false);
  }

  #once(lease: LeaseFrame, left: () => number, callMs: number): Promise<string> {
    // The stream open (every renewal but the first after a drop): no await, no promise more.
    if (this.#open !== null) return this.#write(this.#open, lease, left, callMs);
    // Two renewals in one tick (the master and member leases) share one stream being opened.
    return (this.#opening ??= this.#start(left()).finally(() => (this.#opening = null))).then((open) => {
      if (this.#open !== open) throw new LeanCallError('member_fault', `${open.endpoint}: the keep-alive stream was dropped`);
      return this.#write(open, lease, left, callMs);
    });
  }

  #write(open: OpenStream, lease: LeaseFrame, left: () => number, callMs: number): Promise<string> {
    let waitMs: number;
    try {
      waitMs = enoughLeft(left(), callMs);
    } catch (err) {
      return Promise.reject(err);
    }
    return new Promise<string>((resolve, reject) => {
      const waiter: Waiter = { dueMs: performance.now() + waitMs, waitMs, resolve, reject };
      const queue = open.waiting.get(lease.key);
      if (queue === undefined) open.waiting.set(lease.key, [waiter]);
      else queue.push(waiter);
      open.pending++;
      // A renewal due before the timer (a shorter attempt written while a longer one waits) moves it earlier.
      if (open.deadline === null || waiter.dueMs < open.deadlineDueMs) this.#armDeadline(open, waiter.dueMs, waitMs);
      open.stream.write(lease.frame);
    });
  }

  #armDeadline(open: OpenStream, dueMs: number, inMs: number): void {
    clearTimeout(open.deadline ?? undefined);
    open.deadlineDueMs = dueMs;
    open.deadline = setTimeout(() => this.#checkDeadlines(open), inMs);
  }

  /**
   * The stream's deadline timer fired: a renewal past its deadline drops the stream (the member is
   * frozen or cut off: the next attempt goes to the next endpoint); else the timer waits for the
   * earliest renewal still unanswered, if any.
   */
  #checkDeadlines(open: OpenStream): void {
    open.deadline = null;
    if (this.#open !== open) return;
    const now = performance.now();
    let earliest: Waiter | null = null;
    for (const queue of open.waiting.values()) for (const waiter of queue) if (earliest === null || waiter.dueMs < earliest.dueMs) earliest = waiter;
    if (earliest === null) return;
    // Node may call a timer a fraction of a millisecond early on this clock: not yet due is armed again.
    if (earliest.dueMs > now) this.#armDeadline(open, earliest.dueMs, Math.ceil(earliest.dueMs - now));
    else this.#drop(new LeanCallError('member_fault', `${open.endpoint}: no keep-alive answer within ${earliest.waitMs} ms`), true);
  }

  #frameFor(leaseId: string): LeaseFrame {
    let lease = this.#frames.get(leaseId);
    if (lease === undefined) {
      // Leases come and go (a grant after each loss): keep the last few only.
      if (this.#frames.size >= 4) this.#frames.clear();
      // Keyed by the id's varint bytes, as decodeKeepAliveKeyed reads etcd's answers (no BigInt per answer).
      const request = encodeKeepAlive(leaseId);
      lease = { frame: grpcFrame(request), key: keepAliveKeyOf(request) };
      this.#frames.set(leaseId, lease);
    }
    return lease;
  }

  async #start(tokenMs: number): Promise<OpenStream> {
    const token = await this.etcd.token(tokenMs);
    const { stream, session, endpoint } = this.etcd.request('/etcdserverpb.Lease/LeaseKeepAlive', token, null);
    const open: OpenStream = { stream, session, endpoint, token, waiting: new Map(), deadline: null, deadlineDueMs: 0, pending: 0 };
    const decoder = new FrameDecoder();
    let status: ReturnType<typeof statusOf> = null;
    const fail = (err: LeanCallError): void => {
      if (this.#open === open) this.#drop(err, err.verdict === 'member_fault');
      if (err.verdict === 'token_invalid') this.etcd.tokenRejected(token);
    };
    stream.on('response', (headers: IncomingHttpHeaders) => {
      if (Number(headers[':status']) !== 200) fail(new LeanCallError('member_fault', `${endpoint} answered HTTP ${String(headers[':status'])}`));
      status = statusOf(headers) ?? status;
    });
    stream.on('data', (chunk: Buffer) => {
      // Answers on a stream already dropped count for nothing (its waiters were failed).
      if (this.#open !== open) return;
      try {
        for (const message of decoder.push(chunk)) {
          const reply = decodeKeepAliveKeyed(message);
          const waiter = open.waiting.get(reply.idKey)?.shift();
          if (waiter === undefined) continue;
          if (--open.pending === 0) {
            clearTimeout(open.deadline ?? undefined);
            open.deadline = null;
          }
          waiter.resolve(reply.ttl);
        }
      } catch (err) {
        fail(new LeanCallError('member_fault', `${endpoint}: ${(err as Error).message}`));
      }
    });
    stream.on('trailers', (trailers: IncomingHttpHeaders) => {
      status = statusOf(trailers) ?? status;
    });
    stream.on('error', (err: Error) => fail(new LeanCallError('member_fault', `${endpoint}: ${err.message}`)));
    stream.on('close', () => {
      // A stream etcd ends carries its reason in the status; a stream ending at all is a fault here.
      const verdict = status === null ? 'member_fault' : judgeStatus(status);
      const why = status === null ? `the keep-alive stream ended${this.etcd.sessionError(session)}` : `the keep-alive stream ended with gRPC status ${status.code}: ${status.message}`;
      fail(new LeanCallError(verdict === 'ok' || verdict === 'refused' ? 'member_fault' : verdict, `${endpoint}: ${why}`));
    });
    this.#open = open;
    return open;
  }

  /** Fails every waiting renewal; `memberFault`: the member's session goes too (next endpoint). */
  #drop(err: LeanCallError, memberFault: boolean): void {

    const open = this.#open;
    this.#open = null;
    if (open === null) return;
    const waiting = [...open.waiting.values()].flat();
    open.waiting.clear();
    clearTimeout(open.deadline ?? undefined);
    open.deadline = null;
    for (const waiter of waiting) waiter.reject(err);
    if (!open.stream.closed) open.stream.close(http2.constants.NGHTTP2_CANCEL);
    if (memberFault) this.etcd.fault(open.session);
  }
}
