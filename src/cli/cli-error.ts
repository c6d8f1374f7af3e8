/**
 * The one error a CLI command raises on purpose: a message for standard error and the exit code
 * it means (see exit-codes.ts). `body` is the daemon's reply when there was one, printed as is with
 * `--json` so scripts always get JSON.
 */
import { EXIT, type ExitCode } from './exit-codes.js';

export class CliError extends Error {
  override readonly name = 'CliError';
  constructor(
    readonly exitCode: ExitCode,
    message: string,
    readonly body?: unknown,
  ) {
    super(message);
  }
}

/** A usage error (exit 2): unknown command, bad flag, bad value. */
export function usageError(message: string, body?: unknown): CliError {
  return new CliError(EXIT.USAGE, message, body);
}
