/**
 * The agent's lease keep-alive stream over the lean client (client.ts): one LeaseKeepAlive stream
 * kept open and shared by the agent's leases; a renewal writes the lease id and waits for the
 * answer naming it. A missed attempt deadline, an error or the stream's end drops the stream and
 * the member's session (the next attempt opens a new one on the next endpoint); a status saying
 * the token is invalid gets a new token. The TTL comes back as etcd sent it: ≤ 0 means the lease
 * is gone (the caller's rule, agent-lease.ts).
 */
import http2, { type ClientHttp2Session, type ClientHttp2Stream, type IncomingHttpHeaders } from 'node:http2';
import { LeanCallError, type LeanEtcd } from './client.js';
import { FrameDecoder, grpcFrame, judgeStatus, statusOf } from './frames.js';
import { decodeKeepAlive, encodeKeepAlive } from './messages.js';

interface OpenStream {
  readonly stream: ClientHttp2Stream;
  readonly session: ClientHttp2Session;
  readonly endpoint: string;
  readonly token: string | null;
}

interface Waiter {
  resolve(ttl: string): void;
  reject(err: LeanCallError): void;
}

export class LeanKeepalive {
  #open: OpenStream | null = null;
  #opening: Promise<OpenStream> | null = null;
  readonly #waiting = new Map<string, Waiter>();
  /** The framed request per lease id: the same bytes every second, encoded once (an agent holds two leases). */
  readonly #frames = new Map<string, Buffer>();

  constructor(private readonly etcd: LeanEtcd) {}

  /** Renews `leaseId`; its TTL in seconds as etcd answered ('0' or less: gone). Rejects with a STORE_UNREACHABLE error. */
  keepalive(leaseId: string, callMs: number, what = 'renew a lease'): Promise<string> {
    return this.etcd.retrying(what, callMs, (attemptMs) => this.#once(leaseId, attemptMs));
  }

  /** Ends the stream (the agent stops; the client's close() ends the session). */
  close(): void {
    this.#drop(new LeanCallError('member_fault', 'closed'), false);
  }

  async #once(leaseId: string, attemptMs: number): Promise<string> {
    // Two renewals in one tick (the master and member leases) share one stream being opened.
    const open = this.#open ?? (await (this.#opening ??= this.#start(attemptMs).finally(() => (this.#opening = null))));
    return new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => {
        if (this.#open === open) this.#drop(new LeanCallError('member_fault', `${open.endpoint}: no keep-alive answer within ${attemptMs} ms`), true);
        else reject(new LeanCallError('member_fault', `${open.endpoint}: the keep-alive stream was dropped`));
      }, attemptMs);
      this.#waiting.get(leaseId)?.reject(new LeanCallError('member_fault', 'superseded by a newer renewal'));
      const clearing =
        <T>(settle: (value: T) => void) =>
        (value: T): void => {
          clearTimeout(timer);
          settle(value);
        };
      this.#waiting.set(leaseId, { resolve: clearing(resolve), reject: clearing(reject) });
      // The stream may have been dropped while the waiter was set up (a synchronous 'close').
      if (this.#open !== open) return this.#reject(leaseId, new LeanCallError('member_fault', `${open.endpoint}: the keep-alive stream was dropped`));
      open.stream.write(this.#frameFor(leaseId));
    });
  }

  #frameFor(leaseId: string): Buffer {
    let frame = this.#frames.get(leaseId);
    if (frame === undefined) {
      // Leases come and go (a grant after each loss): keep the last few only.
      if (this.#frames.size >= 4) this.#frames.clear();
      frame = grpcFrame(encodeKeepAlive(leaseId));
      this.#frames.set(leaseId, frame);
    }
    return frame;
  }

  async #start(attemptMs: number): Promise<OpenStream> {
    const token = await this.etcd.token(attemptMs);
    const { stream, session, endpoint } = this.etcd.request('/etcdserverpb.Lease/LeaseKeepAlive', token, null);
    const open: OpenStream = { stream, session, endpoint, token };
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
      try {
        for (const message of decoder.push(chunk)) {
          const reply = decodeKeepAlive(message);
          const waiter = this.#waiting.get(reply.id);
          this.#waiting.delete(reply.id);
          waiter?.resolve(reply.ttl);
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
    const waiting = [...this.#waiting.values()];
    this.#waiting.clear();
    for (const waiter of waiting) waiter.reject(err);
    if (open === null) return;
    if (!open.stream.closed) open.stream.close(http2.constants.NGHTTP2_CANCEL);
    if (memberFault) this.etcd.fault(open.session);
  }

  #reject(leaseId: string, err: LeanCallError): void {
    const waiter = this.#waiting.get(leaseId);
    this.#waiting.delete(leaseId);
    waiter?.reject(err);
  }
}
