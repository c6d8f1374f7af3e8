/**
 * One HTTP/2 client connection framed by hand over a net or tls socket: the lean etcd client's
 * transport. Why not node:http2: a unary call (one stream) through it costs about 1.1 ms of CPU
 * under the agent's V8 flags (stream objects, header lists both ways, async resources), framed
 * here about 0.7 ms, most of it the socket's own write; an idle agent pays that for every member
 * record it writes (docs/node-agent.md, "seventh look").
 *
 * What it does, and what it leaves out on purpose:
 * - prior-knowledge HTTP/2 on http endpoints, ALPN "h2" on https (anything else fails the session);
 * - request headers without the dynamic table (hpack.ts), responses decoded with it;
 * - flow control both ways: what we send waits for the peer's windows; what we receive is
 *   acknowledged with WINDOW_UPDATE once half of our (1 MiB) window is used;
 * - SETTINGS and PING acknowledged (grpc-go's bandwidth probe with our next write, see #ping);
 *   server push refused (ENABLE_PUSH 0, a PUSH_PROMISE is a protocol error); priorities ignored;
 * - GOAWAY, a socket error or close, or a protocol violation ends the whole session: every open
 *   stream is closed with the reason, and `onFailure` is told once. No reconnection here: the
 *   client (client.ts) opens the next session on the next endpoint.
 * No timers: every caller bounds its own wait and cancels or destroys.
 */
import net from 'node:net';
import tls from 'node:tls';
import {
  CONNECTION_PREFACE,
  DEFAULT_MAX_FRAME_SIZE,
  DEFAULT_WINDOW,
  ERROR,
  errorName,
  FLAG,
  FRAME,
  frame,
  FrameReader,
  goawayFrame,
  H2ProtocolError,
  MAX_31_BIT,
  rstStreamFrame,
  SETTING,
  settingsFrame,
  unpadded,
  windowUpdateFrame,
  type Frame,
} from './frames.js';
import { HpackDecoder, HpackError } from './hpack.js';

/** Our receive window per stream and for the connection; acknowledged at half. */
const RECEIVE_WINDOW = 1 << 20;
/** The largest frame we accept (the default; etcd's answers on the hot path are a few hundred bytes). */
const OUR_MAX_FRAME_SIZE = DEFAULT_MAX_FRAME_SIZE;
/** The largest header list we accept (advertised; the decoder's own limit, hpack.ts). */
const OUR_MAX_HEADER_LIST = 65_536;
/**
 * The largest encoded header block we collect over CONTINUATION frames: a peer sending them
 * without end would otherwise grow our memory until the call's deadline (hundreds of MB a second).
 */
const MAX_HEADER_BLOCK_BYTES = 4 * OUR_MAX_HEADER_LIST;
/**
 * The payload of grpc-go's bandwidth-delay probe: etcd's gRPC server sends it with a WINDOW_UPDATE
 * after DATA it receives (every keep-alive, every call) while no probe is unanswered. Its answer
 * waits for our next write (#ping); any other PING (a gRPC keepalive) is answered at once.
 */
const GRPC_BDP_PING = Buffer.from([2, 4, 16, 16, 9, 14, 7, 7]);

export interface H2TlsOptions {
  readonly ca: Buffer | null;
  readonly cert: Buffer | null;
  readonly key: Buffer | null;
}

/** A decoded header block: names as sent (lower case), the first value of a repeated name. */
export type HeaderFields = Record<string, string>;

/** What a stream tells its owner. Called from socket events or a microtask, never from inside the owner's own call. */
export interface H2StreamHandlers {
  /** A header block: the response's (the first), then the trailers. */
  headers(fields: HeaderFields): void;
  data(chunk: Buffer): void;
  /** Once, at the end: null when the server ended the stream, else why it ended (a reset, the session's failure). */
  closed(failure: string | null): void;
}

export class H2Stream {
  sendWindow: number;
  /** Bytes received and not acknowledged yet (WINDOW_UPDATE). */
  receivedUnacked = 0;
  /** Data waiting for the peer's window, in order; `endAfterQueue`: the last one ends our side. */
  readonly queue: Buffer[] = [];
  endAfterQueue = false;
  localEnded = false;
  done = false;
  /** Given up by its owner (cancel()): its handlers hear nothing more, not even a close already queued. */
  cancelled = false;

  constructor(
    readonly id: number,
    private readonly session: H2Session,
    readonly handlers: H2StreamHandlers,
    initialWindow: number,
  ) {
    this.sendWindow = initialWindow;
  }

  /** Sends `data` (after what is queued, as the peer's windows allow); `end`: our side ends with it. */
  write(data: Buffer, end = false): void {
    if (this.done || this.localEnded || this.endAfterQueue) return;
    this.queue.push(data);
    if (end) this.endAfterQueue = true;
    this.session.drain(this);
  }

  /** Ends the stream from our side (RST_STREAM CANCEL); its handlers hear nothing more. */
  cancel(): void {
    this.session.reset(this, ERROR.CANCEL);
  }

  get closed(): boolean {
    return this.done;
  }
}

export class H2Session {
  readonly #socket: net.Socket;
  readonly #reader = new FrameReader(OUR_MAX_FRAME_SIZE);
  readonly #decoder = new HpackDecoder(4096, OUR_MAX_HEADER_LIST);
  readonly #streams = new Map<number, H2Stream>();
  #nextStreamId = 1;
  #connectionSendWindow = DEFAULT_WINDOW;
  #peerInitialWindow = DEFAULT_WINDOW;
  #peerMaxFrameSize = DEFAULT_MAX_FRAME_SIZE;
  #connectionReceivedUnacked = 0;
  /** A header block whose CONTINUATION frames are still due. */
  #headerBlock: { streamId: number; endStream: boolean; parts: Buffer[]; bytes: number } | null = null;
  #failure: string | null = null;
  #brokenBy: string | null = null;
  /** Frames to write, sent together at the end of the current tick (one socket write). */
  #out: Buffer[] = [];
  #flushQueued = false;
  /** The answer to grpc-go's bandwidth probe, sent after the frames of our next write (#ping). */
  #probeAnswer: Buffer | null = null;

  /**
   * Connects to `url` (http: or https:). `onFailure` hears, once, why the session failed on its own
   * (not after destroy()).
   */
  constructor(
    url: URL,
    tlsOptions: H2TlsOptions | null,
    private readonly onFailure: (reason: string) => void,
  ) {
    const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
    const port = Number(url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : url.port);
    if (url.protocol === 'https:') {
      const options: tls.ConnectionOptions = { host, port, ALPNProtocols: ['h2'] };
      // SNI carries names only (RFC 6066); an address is checked against the certificate's IP SANs.
      if (net.isIP(host) === 0) options.servername = host;
      if (tlsOptions?.ca != null) options.ca = tlsOptions.ca;
      if (tlsOptions?.cert != null) options.cert = tlsOptions.cert;
      if (tlsOptions?.key != null) options.key = tlsOptions.key;
      const socket = tls.connect(options);
      socket.once('secureConnect', () => {
        if (socket.alpnProtocol !== 'h2') this.#fail(`${host}:${port} did not agree to HTTP/2 (ALPN: ${socket.alpnProtocol || 'none'})`);
      });
      this.#socket = socket;
    } else {
      this.#socket = net.connect({ host, port });
    }
    const socket = this.#socket;
    socket.setNoDelay(true);
    // The agent's timers keep the process alive; a session never should on its own.
    socket.unref();
    socket.on('data', (chunk: Buffer) => this.#read(chunk));
    socket.on('error', (err: Error) => this.#fail(err.message));
    socket.on('close', () => this.#fail('the connection closed'));
    this.#send(CONNECTION_PREFACE);
    this.#send(
      settingsFrame([
        [SETTING.ENABLE_PUSH, 0],
        [SETTING.INITIAL_WINDOW_SIZE, RECEIVE_WINDOW],
        [SETTING.MAX_FRAME_SIZE, OUR_MAX_FRAME_SIZE],
        [SETTING.MAX_HEADER_LIST_SIZE, OUR_MAX_HEADER_LIST],
      ]),
    );
    this.#send(windowUpdateFrame(0, RECEIVE_WINDOW - DEFAULT_WINDOW));
  }

  /** Why the session failed or was destroyed; null while it is usable. */
  get failure(): string | null {
    return this.#failure;
  }

  /** Why the session failed on its own (a TLS error, a refused connection, GOAWAY); null if it did not. */
  get brokenBy(): string | null {
    return this.#brokenBy;
  }

  /**
   * Opens a stream with the encoded request headers `headerBlock` (hpack.ts). Throws when the
   * session has failed or its stream ids are used up (the caller drops the session).
   */
  request(headerBlock: Buffer, handlers: H2StreamHandlers): H2Stream {
    if (this.#failure !== null) throw new Error(this.#failure);
    const id = this.#nextStreamId;
    if (id > MAX_31_BIT) throw new Error('the connection used up its stream ids');
    this.#nextStreamId += 2;
    const stream = new H2Stream(id, this, handlers, this.#peerInitialWindow);
    this.#streams.set(id, stream);
    // A block larger than the peer's frame size continues in CONTINUATION frames.
    const size = this.#peerMaxFrameSize;
    for (let at = 0; at === 0 || at < headerBlock.length; at += size) {
      const last = at + size >= headerBlock.length;
      const type = at === 0 ? FRAME.HEADERS : FRAME.CONTINUATION;
      this.#send(frame(type, last ? FLAG.END_HEADERS : 0, id, headerBlock.subarray(at, at + size)));
    }
    return stream;
  }

  /** Ends the session from our side; open streams are closed with `reason`. Idempotent. */
  destroy(reason = 'the session was closed'): void {
    if (this.#failure !== null) return;
    this.#failure = reason;
    this.#flushNow();
    this.#socket.destroy();
    this.#closeAll(reason);
  }

  /** Sends what `stream` has queued, as far as the windows allow (stream.ts's write calls it). */
  drain(stream: H2Stream): void {
    if (stream.done || this.#failure !== null) return;
    while (stream.queue.length > 0) {
      const data = stream.queue[0] as Buffer;
      // A window may be negative after the peer lowered INITIAL_WINDOW_SIZE (RFC 9113 §6.9.2).
      const room = Math.max(0, Math.min(this.#connectionSendWindow, stream.sendWindow, this.#peerMaxFrameSize));
      if (data.length > 0 && room === 0) return;
      const n = Math.min(room, data.length);
      const whole = n === data.length;
      if (whole) stream.queue.shift();
      else stream.queue[0] = data.subarray(n);
      this.#connectionSendWindow -= n;
      stream.sendWindow -= n;
      const ends = whole && stream.queue.length === 0 && stream.endAfterQueue;
      this.#send(frame(FRAME.DATA, ends ? FLAG.END_STREAM : 0, stream.id, data.subarray(0, n)));
      if (ends) stream.localEnded = true;
    }
    if (stream.endAfterQueue && !stream.localEnded) {
      stream.localEnded = true;
      this.#send(frame(FRAME.DATA, FLAG.END_STREAM, stream.id, null));
    }
  }

  /** Resets `stream` (our side gives up on it); its handlers hear nothing more. */
  reset(stream: H2Stream, code: number): void {
    stream.cancelled = true;
    if (stream.done) return;
    stream.done = true;
    this.#streams.delete(stream.id);
    if (this.#failure === null) this.#send(rstStreamFrame(stream.id, code));
  }

  #send(bytes: Buffer): void {
    this.#out.push(bytes);
    if (this.#flushQueued) return;
    this.#flushQueued = true;
    queueMicrotask(() => this.#flushNow());
  }

  #flushNow(): void {
    this.#flushQueued = false;
    const out = this.#out;
    if (out.length === 0) return;
    this.#out = [];
    if (this.#probeAnswer !== null) {
      out.push(this.#probeAnswer);
      this.#probeAnswer = null;
    }
    if (this.#socket.destroyed) return;
    this.#socket.write(out.length === 1 ? (out[0] as Buffer) : Buffer.concat(out));
  }

  #read(chunk: Buffer): void {
    if (this.#failure !== null) return;
    try {
      this.#reader.push(chunk, (f) => this.#frame(f));
    } catch (err) {
      // Nothing may escape into the socket's listener (it would end the agent), and a session that
      // stopped reading in the middle of a chunk is out of step with the peer (frames, header
      // table): whatever was thrown, the session ends. Our last stream id in GOAWAY is 0: the
      // server starts none.
      if (err instanceof H2ProtocolError || err instanceof HpackError) {
        const code = err instanceof HpackError ? ERROR.COMPRESSION_ERROR : err.code;
        this.#send(goawayFrame(0, code));
        this.#fail(`HTTP/2 ${errorName(code)} from the server: ${err.message}`);
      } else {
        this.#send(goawayFrame(0, ERROR.INTERNAL_ERROR));
        this.#fail(`the HTTP/2 session failed reading an answer: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
  }

  #frame(f: Frame): void {
    if (this.#failure !== null) return;
    if (this.#headerBlock !== null && f.type !== FRAME.CONTINUATION) throw new H2ProtocolError(ERROR.PROTOCOL_ERROR, `a frame of type ${f.type} inside a header block`);
    switch (f.type) {
      case FRAME.DATA:
        return this.#data(f);
      case FRAME.HEADERS:
        return this.#headers(f);
      case FRAME.CONTINUATION:
        return this.#continuation(f);
      case FRAME.RST_STREAM:
        return this.#rstStream(f);
      case FRAME.SETTINGS:
        return this.#settings(f);
      case FRAME.PING:
        return this.#ping(f);
      case FRAME.GOAWAY:
        return this.#goaway(f);
      case FRAME.WINDOW_UPDATE:
        return this.#windowUpdate(f);
      case FRAME.PUSH_PROMISE:
        throw new H2ProtocolError(ERROR.PROTOCOL_ERROR, 'a PUSH_PROMISE (push was disabled)');
      default:
        // PRIORITY and unknown types are ignored (RFC 9113 §4.1, §5.5).
        return;
    }
  }

  #data(f: Frame): void {
    if (f.streamId === 0) throw new H2ProtocolError(ERROR.PROTOCOL_ERROR, 'DATA on stream 0');
    // The whole payload, padding included, counts against the windows, even on a stream we dropped.
    this.#connectionReceivedUnacked += f.payload.length;
    if (this.#connectionReceivedUnacked >= RECEIVE_WINDOW / 2) {
      this.#send(windowUpdateFrame(0, this.#connectionReceivedUnacked));
      this.#connectionReceivedUnacked = 0;
    }
    const stream = this.#streams.get(f.streamId);
    if (stream === undefined) return;
    const data = unpadded(f);
    const ends = (f.flags & FLAG.END_STREAM) !== 0;
    if (!ends) {
      stream.receivedUnacked += f.payload.length;
      if (stream.receivedUnacked >= RECEIVE_WINDOW / 2) {
        this.#send(windowUpdateFrame(stream.id, stream.receivedUnacked));
        stream.receivedUnacked = 0;
      }
    }
    if (data.length > 0) stream.handlers.data(data);
    if (ends) this.#ended(stream);
  }

  #headers(f: Frame): void {
    if (f.streamId === 0) throw new H2ProtocolError(ERROR.PROTOCOL_ERROR, 'HEADERS on stream 0');
    const fragment = unpadded(f);
    const block = { streamId: f.streamId, endStream: (f.flags & FLAG.END_STREAM) !== 0, parts: [fragment], bytes: fragment.length };
    if ((f.flags & FLAG.END_HEADERS) !== 0) this.#headerBlockDone(block);
    // The payload is a view into the reader's buffer: keep a copy until the block is complete.
    else this.#headerBlock = { ...block, parts: [Buffer.from(fragment)] };
  }

  #continuation(f: Frame): void {
    const block = this.#headerBlock;
    if (block === null || block.streamId !== f.streamId) throw new H2ProtocolError(ERROR.PROTOCOL_ERROR, 'a CONTINUATION frame outside its header block');
    block.bytes += f.payload.length;
    if (block.bytes > MAX_HEADER_BLOCK_BYTES) throw new H2ProtocolError(ERROR.ENHANCE_YOUR_CALM, `a header block above ${MAX_HEADER_BLOCK_BYTES} bytes`);
    block.parts.push(Buffer.from(f.payload));
    if ((f.flags & FLAG.END_HEADERS) === 0) return;
    this.#headerBlock = null;
    this.#headerBlockDone(block);
  }

  #headerBlockDone(block: { streamId: number; endStream: boolean; parts: Buffer[]; bytes: number }): void {
    // Decoded even for a stream we dropped: the decoder's table must follow every block the server sent.
    const fields = this.#decoder.decode(block.parts.length === 1 ? (block.parts[0] as Buffer) : Buffer.concat(block.parts));
    const stream = this.#streams.get(block.streamId);
    if (stream === undefined) return;
    const record: HeaderFields = {};
    for (const [name, value] of fields) if (!(name in record)) record[name] = value;
    stream.handlers.headers(record);
    if (block.endStream && !stream.done) this.#ended(stream);
  }

  /** The server ended `stream`; if our side is still open, it is reset (nothing more will be read on it). */
  #ended(stream: H2Stream): void {
    if (stream.done) return;
    stream.done = true;
    this.#streams.delete(stream.id);
    if (!stream.localEnded) this.#send(rstStreamFrame(stream.id, ERROR.CANCEL));
    stream.handlers.closed(null);
  }

  #rstStream(f: Frame): void {
    if (f.payload.length !== 4) throw new H2ProtocolError(ERROR.FRAME_SIZE_ERROR, 'a RST_STREAM frame not 4 bytes long');
    const stream = this.#streams.get(f.streamId);
    if (stream === undefined) return;
    stream.done = true;
    this.#streams.delete(stream.id);
    stream.handlers.closed(`the server reset the stream (${errorName(f.payload.readUInt32BE(0))})`);
  }

  #settings(f: Frame): void {
    if (f.streamId !== 0) throw new H2ProtocolError(ERROR.PROTOCOL_ERROR, 'SETTINGS on a stream');
    if ((f.flags & FLAG.ACK) !== 0) return;
    if (f.payload.length % 6 !== 0) throw new H2ProtocolError(ERROR.FRAME_SIZE_ERROR, 'a SETTINGS frame not a multiple of 6 bytes');
    for (let at = 0; at < f.payload.length; at += 6) {
      const id = f.payload.readUInt16BE(at);
      const value = f.payload.readUInt32BE(at + 2);
      if (id === SETTING.INITIAL_WINDOW_SIZE) {
        if (value > MAX_31_BIT) throw new H2ProtocolError(ERROR.FLOW_CONTROL_ERROR, `SETTINGS_INITIAL_WINDOW_SIZE ${value}`);
        const delta = value - this.#peerInitialWindow;
        this.#peerInitialWindow = value;
        for (const stream of this.#streams.values()) {
          stream.sendWindow += delta;
          if (stream.sendWindow > MAX_31_BIT) throw new H2ProtocolError(ERROR.FLOW_CONTROL_ERROR, 'a stream window above 2^31 - 1 after SETTINGS_INITIAL_WINDOW_SIZE');
        }
      } else if (id === SETTING.MAX_FRAME_SIZE) {
        if (value < DEFAULT_MAX_FRAME_SIZE || value > 0xff_ffff) throw new H2ProtocolError(ERROR.PROTOCOL_ERROR, `SETTINGS_MAX_FRAME_SIZE ${value}`);
        this.#peerMaxFrameSize = value;
      }
      // HEADER_TABLE_SIZE bounds our encoder's table, which is never used; the others need nothing from a client.
    }
    this.#send(frame(FRAME.SETTINGS, FLAG.ACK, 0, null));
    this.#drainAll();
  }

  #ping(f: Frame): void {
    if (f.streamId !== 0) throw new H2ProtocolError(ERROR.PROTOCOL_ERROR, 'PING on a stream');
    if (f.payload.length !== 8) throw new H2ProtocolError(ERROR.FRAME_SIZE_ERROR, 'a PING frame not 8 bytes long');
    if ((f.flags & FLAG.ACK) !== 0) return;
    const answer = frame(FRAME.PING, FLAG.ACK, 0, f.payload);
    // grpc-go probes after DATA it receives while no probe is unanswered, and only its flow-control
    // window sizing reads the answer's delay (no deadline). Answered after the frames of our next
    // write, the probe costs no write of its own, and that write's DATA draws no new probe (the old
    // one is still unanswered when it is read): one write instead of two per call, and a probe
    // (a read, often a wake-up) every other call instead of every call. Measured per call
    // (bench/lean-call-cost.ts): keep-alive 302 -> 214 us of CPU, transaction 841 -> 744 us.
    if (f.payload.equals(GRPC_BDP_PING)) this.#probeAnswer = answer;
    else this.#send(answer);
  }

  #goaway(f: Frame): void {
    if (f.payload.length < 8) throw new H2ProtocolError(ERROR.FRAME_SIZE_ERROR, 'a GOAWAY frame shorter than 8 bytes');
    const code = f.payload.readUInt32BE(4);
    const debug = f.payload.subarray(8).toString('utf8').replace(/[^\x20-\x7e]/g, '?').slice(0, 200);
    this.#fail(`the server sent GOAWAY (${errorName(code)}${debug === '' ? '' : `: ${debug}`})`);
  }

  #windowUpdate(f: Frame): void {
    if (f.payload.length !== 4) throw new H2ProtocolError(ERROR.FRAME_SIZE_ERROR, 'a WINDOW_UPDATE frame not 4 bytes long');
    const increment = f.payload.readUInt32BE(0) & MAX_31_BIT;
    if (f.streamId === 0) {
      if (increment === 0) throw new H2ProtocolError(ERROR.PROTOCOL_ERROR, 'a WINDOW_UPDATE of 0');
      this.#connectionSendWindow += increment;
      if (this.#connectionSendWindow > MAX_31_BIT) throw new H2ProtocolError(ERROR.FLOW_CONTROL_ERROR, 'the connection window above 2^31 - 1');
      this.#drainAll();
      return;
    }
    const stream = this.#streams.get(f.streamId);
    if (stream === undefined) return;
    if (increment === 0 || stream.sendWindow + increment > MAX_31_BIT) {
      this.reset(stream, increment === 0 ? ERROR.PROTOCOL_ERROR : ERROR.FLOW_CONTROL_ERROR);
      stream.handlers.closed(`the server sent a WINDOW_UPDATE of ${increment} on the stream`);
      return;
    }
    stream.sendWindow += increment;
    this.drain(stream);
  }

  #drainAll(): void {
    for (const stream of this.#streams.values()) if (stream.queue.length > 0 || (stream.endAfterQueue && !stream.localEnded)) this.drain(stream);
  }

  #fail(reason: string): void {
    if (this.#failure !== null) return;
    this.#failure = reason;
    this.#brokenBy = reason;
    this.#flushNow();
    this.#socket.destroy();
    this.#closeAll(reason);
    this.onFailure(reason);
  }

  /** Closes every open stream with `reason`, in a microtask (never inside the caller's own call). */
  #closeAll(reason: string): void {
    const streams = [...this.#streams.values()];
    this.#streams.clear();
    for (const stream of streams) stream.done = true;
    if (streams.length > 0) queueMicrotask(() => streams.forEach((stream) => stream.cancelled || stream.handlers.closed(reason)));
  }
}
