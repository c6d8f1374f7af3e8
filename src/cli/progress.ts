/**
 * A "waiting…" indicator for calls that take a while (failover, switchover, clone), on standard
 * error so standard output stays the result. On a terminal: a spinner line with the elapsed time
 * and the latest progress, redrawn in place and erased at the end. Elsewhere: one line when the
 * wait starts and one per change of progress, nothing else (logs and CI stay readable).
 */
import type { CliIo } from './io.js';

export interface Progress {
  /** The latest progress text (e.g. "copying from john 45%"). */
  update(text: string): void;
  /** Stop and erase the spinner. Idempotent. */
  stop(): void;
}

const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

export function startProgress(io: CliIo, label: string, options: { quiet?: boolean; now?: () => number } = {}): Progress {
  const now = options.now ?? Date.now;
  const started = now();
  let text = '';
  let stopped = false;
  if (!io.interactive) {
    if (!options.quiet) io.err(`${label}: waiting for the controller…\n`);
    return {
      update(next) {
        if (stopped || next === text) return;
        text = next;
        if (!options.quiet) io.err(`${label}: ${next}\n`);
      },
      stop() {
        stopped = true;
      },
    };
  }
  let frame = 0;
  const draw = (): void => {
    const seconds = Math.floor((now() - started) / 1000);
    io.err(`\r\x1b[2K${FRAMES[frame % FRAMES.length]} ${label}: ${text || 'waiting for the controller…'} (${seconds}s)`);
    frame += 1;
  };
  draw();
  const timer = setInterval(draw, 100);
  return {
    update(next) {
      text = next;
    },
    stop() {
      if (stopped) return;
      stopped = true;
      clearInterval(timer);
      io.err('\r\x1b[2K');
    },
  };
}
