/**
 * Where the CLI writes, and what it knows about the terminal. Commands never touch
 * process.stdout directly, so tests run them with captured output.
 */

export interface CliIo {
  /** Standard output (results). */
  out(text: string): void;
  /** Standard error (errors, progress). */
  err(text: string): void;
  /** Colours on standard output: a TTY, NO_COLOR unset or empty, TERM not "dumb". */
  readonly color: boolean;
  /** Standard error is a terminal: spinners may redraw a line there. */
  readonly interactive: boolean;
  /** Width of the terminal on standard output, or null when it is not one. */
  readonly columns: number | null;
  readonly env: NodeJS.ProcessEnv;
}

/** Whether colours are wanted for a stream (https://no-color.org). */
export function wantsColor(isTTY: boolean, env: NodeJS.ProcessEnv): boolean {
  if (!isTTY) return false;
  if (env['NO_COLOR'] !== undefined && env['NO_COLOR'] !== '') return false;
  return env['TERM'] !== 'dumb';
}

/** The process's own streams. */
export function processIo(): CliIo {
  // `handyrep log --json | head`: a reader that went away is not an error worth a stack trace.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });
  const stdoutTTY = process.stdout.isTTY === true;
  return {
    out: (text) => void process.stdout.write(text),
    err: (text) => void process.stderr.write(text),
    color: wantsColor(stdoutTTY, process.env),
    interactive: process.stderr.isTTY === true && process.env['TERM'] !== 'dumb',
    columns: stdoutTTY ? (process.stdout.columns ?? null) : null,
    env: process.env,
  };
}

/** Captured output, for tests. */
export interface CapturedIo extends CliIo {
  stdout(): string;
  stderr(): string;
}

export function captureIo(options: { color?: boolean; interactive?: boolean; columns?: number | null; env?: NodeJS.ProcessEnv } = {}): CapturedIo {
  let out = '';
  let err = '';
  return {
    out: (text) => void (out += text),
    err: (text) => void (err += text),
    color: options.color ?? false,
    interactive: options.interactive ?? false,
    columns: options.columns ?? null,
    env: options.env ?? {},
    stdout: () => out,
    stderr: () => err,
  };
}
