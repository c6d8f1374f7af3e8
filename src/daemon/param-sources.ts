/**
 * Where web parameters come from: the query string, a urlencoded form, or a JSON object body, in
 * any combination. Forms and query strings carry strings only, and a name given twice there (or
 * in both the query and the body) is refused naming it, instead of guessing which one counts.
 */
import { invalidParameter } from './http-error.js';

/** A parsed application/x-www-form-urlencoded body: every value of every name, in order. */
export class FormBody {
  constructor(readonly fields: ReadonlyMap<string, readonly string[]>) {}

  static parse(text: string): FormBody {
    const fields = new Map<string, string[]>();
    for (const [key, value] of new URLSearchParams(text)) {
      const list = fields.get(key);
      if (list) list.push(value);
      else fields.set(key, [value]);
    }
    return new FormBody(fields);
  }
}

/** Parameters by the name the caller used; values are strings (query, form) or JSON values. */
export type WireParams = ReadonlyMap<string, unknown>;

const MAX_NAME_SHOWN = 80;

/** A parameter name as it may appear in a message (bounded, control characters escaped). */
export function shownName(name: string): string {
  const escaped = JSON.stringify(name.length > MAX_NAME_SHOWN ? `${name.slice(0, MAX_NAME_SHOWN)}…` : name);
  return escaped.slice(1, -1);
}

/** Merge the query string and the body into one set of parameters. */
export function collectWireParams(query: unknown, body: unknown): WireParams {
  const params = new Map<string, unknown>();
  const put = (name: string, value: unknown): void => {
    if (params.has(name)) throw repeated(name);
    params.set(name, value);
  };
  if (query !== null && typeof query === 'object') {
    for (const [name, value] of Object.entries(query)) {
      if (Array.isArray(value)) throw repeated(name);
      put(name, value);
    }
  }
  if (body instanceof FormBody) {
    for (const [name, values] of body.fields) {
      if (values.length > 1) throw repeated(name);
      put(name, values[0]);
    }
  } else if (body !== undefined && body !== '') {
    // Only "no body" means no parameters: a JSON null is a body of the wrong shape.
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw invalidParameter('(body)', 'a JSON body must be an object of parameters, e.g. {"servername": "paul"}');
    }
    for (const [name, value] of Object.entries(body)) put(name, value);
  }
  return params;
}

function repeated(name: string): Error {
  const shown = shownName(name);
  return invalidParameter(shown, `parameter "${shown}" is given more than once`);
}
