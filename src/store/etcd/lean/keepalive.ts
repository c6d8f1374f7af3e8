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
import { enoughLeft, LeanCallError, type LeanEtcd } from './client.js';
import { CallHeaders, FrameDecoder, grpcFrame, judgeStatus } from './frames.js';
import type { H2Session, H2Stream, HeaderFields } from './h2/session.js';
import { decodeKeepAlive, encodeKeepAlive } from './messages.js';

interface OpenStream {
  readonly stream: H2Stream;
  readonly session: H2Session;
  readonly endpoint: string;
  readonly token: string | null;
  /** Per lease id (canonical decimal), the renewals written and not answered yet, oldest first. */
  readonly waiting: Map<string, Waiter[]>;
}

interface Waiter {
  resolve(ttl: string): void;
  reject(err: LeanCallError): void;
}

/** The request bytes and the id as etcd's answers spell it, per lease id given. */
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
  async keepalive(leaseId: string, callMs: number, what = 'renew a lease'): Promise<string> {
    const lease = this.#frameFor(leaseId);
    return this.etcd.retrying(what, callMs, (left) => this.#once(lease, left, callMs));
  }

  /** Ends the stream (the agent stops; the client's close() ends the session). */
  close(): void {
    this.#drop(new LeanCallError('member_fault', 'closed'), false);
  }

  async #once(lease: LeaseFrame, left: () => number, callMs: number): Promise<string> {
    // Two renewals in one tick (the master and member leases) share one stream being opened.
    const open = this.#open ?? (await (this.#opening ??= this.#start(left()).finally(() => (this.#opening = null))));
    if (this.#open !== open) throw new LeanCallError('member_fault', `${open.endpoint}: the keep-alive stream was dropped`);
    const waitMs = enoughLeft(left(), callMs);
    return new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => {
        if (this.#open === open) this.#drop(new LeanCallError('member_fault', `${open.endpoint}: no keep-alive answer within ${waitMs} ms`), true);
      }, waitMs);
      const clearing =
        <T>(settle: (value: T) => void) =>
        (value: T): void => {
          clearTimeout(timer);
          settle(value);
        };
      const queue = open.waiting.get(lease.key);
      const waiter = { resolve: clearing(resolve), reject: clearing(reject) };
      if (queue === undefined) open.waiting.set(lease.key, [waiter]);
      else queue.push(waiter);
      open.stream.write(lease.frame);
    });
  }

  #frameFor(leaseId: string): LeaseFrame {
    let lease = this.#frames.get(leaseId);
    if (lease === undefined) {
      // Leases come and go (a grant after each loss): keep the last few only.
      if (this.#frames.size >= 4) this.#frames.clear();
      // etcd's answers spell the id in canonical decimal; the waiters are keyed the same way.
      const key = BigInt(leaseId).toString();
      lease = { frame: grpcFrame(encodeKeepAlive(key)), key };
      this.#frames.set(leaseId, lease);
    }
    return lease;
  }

  async #start(tokenMs: number): Promise<OpenStream> {
    const token = await this.etcd.token(tokenMs);
    const decoder = new FrameDecoder();
    const heard = new CallHeaders();
    const fail = (err: LeanCallError): void => {
      if (this.#open === open) this.#drop(err, err.verdict === 'member_fault');
      if (err.verdict === 'token_invalid') this.etcd.tokenRejected(token);
    };
    const { stream, session, endpoint } = this.etcd.request('/etcdserverpb.Lease/LeaseKeepAlive', token, null, {
      headers: (fields: HeaderFields) => {
        const notGrpc = heard.take(fields);
        if (notGrpc !== null) fail(new LeanCallError('member_fault', `${endpoint} ${notGrpc}`));
      },
      data: (chunk: Buffer) => {
        // Answers on a stream already dropped count for nothing (its waiters were failed).
        if (this.#open !== open) return;
        try {
          for (const message of decoder.push(chunk)) {
            const reply = decodeKeepAlive(message);
            open.waiting.get(reply.id)?.shift()?.resolve(reply.ttl);
          }
        } catch (err) {
          fail(new LeanCallError('member_fault', `${endpoint}: ${(err as Error).message}`));
        }
      },
      closed: (why: string | null) => {
        if (why !== null) return fail(new LeanCallError('member_fault', `${endpoint}: ${why}`));
        // A stream etcd ends carries its reason in the status; a stream ending at all is a fault here.
        const status = heard.status;
        const verdict = status === null ? 'member_fault' : judgeStatus(status);
        const ending = status === null ? `the keep-alive stream ended${this.etcd.sessionError(session)}` : `the keep-alive stream ended with gRPC status ${status.code}: ${status.message}`;
        fail(new LeanCallError(verdict === 'ok' || verdict === 'refused' ? 'member_fault' : verdict, `${endpoint}: ${ending}`));
      },
    });
    const open: OpenStream = { stream, session, endpoint, token, waiting: new Map() };
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
    for (const waiter of waiting) waiter.reject(err);
    open.stream.cancel();
    if (memberFault) this.etcd.fault(open.session);
  }
}
