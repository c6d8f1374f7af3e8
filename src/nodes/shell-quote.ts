/**
 * POSIX shell quoting: the only place in HandyRep where an argv becomes a shell string.
 *
 * Needed because an SSH exec request is one string that the remote user's login shell parses.
 * Every argument is either passed through unchanged (when it consists only of characters no POSIX
 * shell treats specially) or wrapped in single quotes, inside which nothing is special except the
 * single quote itself, written as `'\''`. This assumes a POSIX-family login shell (sh, bash, dash,
 * zsh); csh-family shells treat newlines inside quotes differently.
 */
import { HandyRepError } from '../model/errors.js';

/** Characters that are never special to a POSIX shell, anywhere in a word. */
const SAFE_WORD = /^[A-Za-z0-9_./:@%+,-]+$/;

/** Words a shell treats as syntax when they appear unquoted in command position. */
const RESERVED_WORDS = new Set([
  'case', 'coproc', 'do', 'done', 'elif', 'else', 'esac', 'fi', 'for', 'function',
  'if', 'in', 'select', 'then', 'time', 'until', 'while',
]);

/**
 * Quotes one argument so that a POSIX shell passes it to the command as exactly this string.
 * Throws `HandyRepError('INVALID_PARAMETER')` for a NUL character, which no argv can carry.
 */
export function quoteArg(arg: string): string {
  if (arg.includes('\0')) {
    throw new HandyRepError('INVALID_PARAMETER', 'a command argument contains a NUL character');
  }
  if (SAFE_WORD.test(arg) && !RESERVED_WORDS.has(arg)) return arg;
  return `'${arg.replaceAll("'", `'\\''`)}'`;
}

/**
 * Quotes an argv into one shell command string (arguments separated by single spaces).
 * Throws `HandyRepError('INVALID_PARAMETER')` for an empty argv or any argument with a NUL.
 */
export function quoteCommand(argv: readonly string[]): string {
  if (argv.length === 0) {
    throw new HandyRepError('INVALID_PARAMETER', 'a command needs at least one argument (the program)');
  }
  return argv.map(quoteArg).join(' ');
}
