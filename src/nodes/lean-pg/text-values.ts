/**
 * A lean session's values are PostgreSQL's text output; these read one column of a row as the
 * type the query selected, and throw naming the column when it is missing or not of that type
 * (a query and its reader out of step must fail loudly, never read as NULL).
 */
export type TextRow = Readonly<Record<string, string | null>>;

function column(row: TextRow, name: string): string | null {
  const value = row[name];
  if (value === undefined) throw new Error(`the query's row has no column ${name}`);
  return value;
}

function malformed(name: string, value: string, type: string): Error {
  return new Error(`column ${name}: ${JSON.stringify(value.slice(0, 40))} is not ${type}`);
}

export function textValue(row: TextRow, name: string): string | null {
  return column(row, name);
}

export function boolValue(row: TextRow, name: string): boolean | null {
  const value = column(row, name);
  if (value === null) return null;
  if (value === 't') return true;
  if (value === 'f') return false;
  throw malformed(name, value, 'a boolean');
}

export function intValue(row: TextRow, name: string): number | null {
  const value = column(row, name);
  if (value === null) return null;
  if (!/^-?\d{1,15}$/.test(value)) throw malformed(name, value, 'an integer');
  return Number(value);
}

/** float8's text: digits with an exponent, or NaN / Infinity / -Infinity (as node-postgres reads them). */
export function floatValue(row: TextRow, name: string): number | null {
  const value = column(row, name);
  if (value === null) return null;
  const number = Number(value);
  if (value.trim() === '' || (Number.isNaN(number) && value !== 'NaN')) throw malformed(name, value, 'a number');
  return number;
}
