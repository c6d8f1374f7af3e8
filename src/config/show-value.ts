/**
 * How a configuration message shows the value it complains about: short, on one line, and never
 * the content of a secret.
 */

const MAX_STRING_CHARS = 40;

/** Describes `value` for "got …": quoted and truncated strings, plain scalars, kinds for the rest. */
export function showValue(value: unknown, hidden: boolean): string {
  if (hidden) return `${kindOf(value)} (value hidden)`;
  if (typeof value === 'string') {
    const shown = value.length > MAX_STRING_CHARS ? `${value.slice(0, MAX_STRING_CHARS)}…` : value;
    return JSON.stringify(shown);
  }
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  return kindOf(value);
}

/** The YAML kind of a value, with an article: "a string", "a list of 2 items", "null". */
export function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'nothing';
  if (Array.isArray(value)) return value.length === 0 ? 'an empty list' : `a list of ${value.length} item${value.length === 1 ? '' : 's'}`;
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'number') return Number.isInteger(value) ? 'an integer' : 'a number';
  if (typeof value === 'boolean') return 'a boolean';
  return `a ${typeof value}`;
}
