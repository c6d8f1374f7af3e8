/**
 * Bounded capture of a command's output stream. A runaway command (a log dumped to stdout, a
 * `yes` by mistake) must not exhaust the controller's memory, and when output is cut the end is
 * what explains a failure, so the tail is kept.
 */

/** Default cap per stream. */
export const DEFAULT_MAX_OUTPUT_BYTES = 1024 * 1024;

/** Collects chunks of one stream, keeping at most `maxBytes` of the most recent output. */
export class TailBuffer {
  private chunks: Buffer[] = [];
  private size = 0;
  private dropped = 0;

  constructor(private readonly maxBytes: number = DEFAULT_MAX_OUTPUT_BYTES) {}

  /** Adds a chunk, dropping the oldest bytes beyond the cap. */
  push(chunk: Buffer | string): void {
    let buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    if (buf.length > this.maxBytes) {
      this.dropped += buf.length - this.maxBytes;
      buf = buf.subarray(buf.length - this.maxBytes);
    }
    this.chunks.push(buf);
    this.size += buf.length;
    while (this.size > this.maxBytes) {
      const first = this.chunks[0];
      if (first === undefined) break;
      const excess = this.size - this.maxBytes;
      if (first.length <= excess) {
        this.chunks.shift();
        this.size -= first.length;
        this.dropped += first.length;
      } else {
        this.chunks[0] = first.subarray(excess);
        this.size -= excess;
        this.dropped += excess;
      }
    }
  }

  /** The kept output as UTF-8, prefixed with a marker saying how much was dropped, if any. */
  text(): string {
    const body = Buffer.concat(this.chunks).toString('utf8');
    return this.dropped > 0 ? `[... ${this.dropped} bytes of output dropped ...]\n${body}` : body;
  }
}
