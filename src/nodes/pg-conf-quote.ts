/**
 * Quoting for what HandyRep writes into postgresql.auto.conf (primary_conninfo, restore_command,
 * primary_slot_name). Two parsers read such a line, one inside the other:
 *
 *  1. PostgreSQL's configuration file parser reads `name = '…'`: inside the quotes `''` or `\'`
 *     is a quote, `\\` a backslash, and `\b \f \n \r \t \ooo` are escapes; a line break ends the
 *     line. So every `\` and `'` of the value is escaped, and control characters are refused
 *     (they could only be smuggled in as escapes, and a raw line break would start a new setting).
 *  2. For primary_conninfo, libpq's conninfo parser then reads the value: `key='…'` with `\'` and
 *     `\\` inside quotes. Every value is quoted, so spaces, `=` and `#` are plain characters.
 *
 * The error names the setting the bad value came from, so the operator knows what to fix.
 */
import { HandyRepError } from '../model/errors.js';

/** One `key=value` of a conninfo string and the HandyRep setting it came from (for errors). */
export interface ConninfoPart {
  key: string;
  value: string;
  setting: string;
}

/** The first control character (C0 or DEL) in `value`, as U+XXXX, or null. */
function firstControlCharacter(value: string): string | null {
  const found = /[\u0000-\u001f\u007f]/.exec(value);
  return found ? `U+${found[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}` : null;
}

/** Throws a clear error naming `setting` when `value` holds a control character (line break, tab, NUL ...). */
export function refuseControlCharacters(setting: string, value: string): void {
  const found = firstControlCharacter(value);
  if (found !== null) {
    throw new HandyRepError('INVALID_PARAMETER', `${setting} contains a control character (${found}, e.g. a line break or tab): refused, it cannot be written safely to postgresql.auto.conf`);
  }
}

/** libpq conninfo value: always single-quoted, `\` and `'` backslash-escaped. */
export function conninfoValue(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** `key='value' …` for libpq; refuses control characters in any value, naming its setting. */
export function conninfoString(parts: readonly ConninfoPart[]): string {
  for (const part of parts) refuseControlCharacters(part.setting, part.value);
  return parts.map((p) => `${p.key}=${conninfoValue(p.value)}`).join(' ');
}

/** A value quoted for PostgreSQL's configuration file parser: `'…'` with `\` and `'` doubled. */
export function confValue(setting: string, value: string): string {
  refuseControlCharacters(setting, value);
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
}

/** `name = 'value'` lines for postgresql.auto.conf, each value quoted by confValue. */
export function confLines(settings: Readonly<Record<string, string>>): string {
  return Object.entries(settings)
    .map(([name, value]) => `${name} = ${confValue(name, value)}\n`)
    .join('');
}

/**
 * A standby name inside synchronous_standby_names: always a double-quoted identifier (`"` doubled),
 * so any server name is matched literally (PostgreSQL compares standby names case-insensitively
 * either way). Control characters are refused, naming the server.
 */
export function standbyNameIdentifier(name: string): string {
  refuseControlCharacters(`the server name ${name}`, name);
  return `"${name.replace(/"/g, '""')}"`;
}
