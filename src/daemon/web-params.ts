/**
 * From web parameters to an operation's named library parameters. Each operation's HTTP
 * signature is derived from the operations table (or its web form) once: which names it takes,
 * their JSON Schemas for converting strings, and which parameter, if any, takes server settings
 * given as extra keys. Validation itself stays in the table (invokeOperation); this only converts
 * and refuses names the function does not take.
 */
import type { OperationSpec } from '../api/operations.js';
import type { JsonSchema } from '../config/json-schema.js';
import { coerceServerProp, coerceWebValue } from './coerce.js';
import { invalidParameter } from './http-error.js';
import { propertySchemas } from './param-schemas.js';
import { shownName, type WireParams } from './param-sources.js';
import { webFormOf, type WebForm } from './web-forms.js';

/** How an operation is called over HTTP. */
export interface WebSignature {
  readonly spec: OperationSpec;
  /** JSON Schema (input side) of each web parameter, by name. */
  readonly params: Readonly<Record<string, JsonSchema>>;
  readonly required: readonly string[];
  /** The record parameter that collects extra keys (serverprops), or null. */
  readonly recordParam: string | null;
  readonly form: WebForm | null;
}

const signatures = new Map<string, WebSignature>();

/** The HTTP signature of an operation (computed once per operation). */
export function webSignature(spec: OperationSpec): WebSignature {
  const known = signatures.get(spec.name);
  if (known && known.spec === spec) return known;
  const form = webFormOf(spec.name) ?? null;
  const { properties, required } = propertySchemas(form ? form.params : spec.params);
  const records = Object.entries(properties).filter(([, node]) => isRecordSchema(node)).map(([name]) => name);
  const signature: WebSignature = {
    spec,
    params: properties,
    required: required.filter((name) => !Object.hasOwn(properties[name] ?? {}, 'default')),
    // Extra keys are unambiguous only when exactly one parameter can take them.
    recordParam: records.length === 1 ? (records[0] as string) : null,
    form,
  };
  signatures.set(spec.name, signature);
  return signature;
}

function isRecordSchema(node: JsonSchema): boolean {
  const branches = node.anyOf ?? [node];
  return branches.some((b) => b.type === 'object' && b.properties === undefined);
}

/**
 * Named library parameters from web parameters: strings converted by each parameter's schema,
 * extra keys gathered into the record parameter, the web form mapped to the library form.
 * Throws INVALID_PARAMETER naming the parameter for a name the function does not take, a setting
 * given twice, or a web form value that is invalid.
 */
export function webParams(signature: WebSignature, wire: WireParams): Record<string, unknown> {
  const named: Record<string, unknown> = {};
  // A Map, so that a key such as "__proto__" stays a key (Object.fromEntries defines it as one).
  const extras = new Map<string, unknown>();
  for (const [name, value] of wire) {
    const schema = Object.hasOwn(signature.params, name) ? signature.params[name] : undefined;
    if (schema) named[name] = coerceWebValue(value, schema);
    else if (signature.recordParam !== null) extras.set(name, coerceServerProp(name, value));
    else throw unknownParameter(signature, name);
  }
  if (signature.recordParam !== null && extras.size > 0) {
    named[signature.recordParam] = mergeExtras(signature.recordParam, named[signature.recordParam], Object.fromEntries(extras));
  }
  return signature.form ? fromWebForm(signature.form, named) : named;
}

function unknownParameter(signature: WebSignature, name: string): Error {
  const takes = Object.keys(signature.params);
  const shown = shownName(name);
  const list = takes.length > 0 ? `it takes ${takes.join(', ')}` : 'it takes no parameters';
  return invalidParameter(shown, `${signature.spec.name} has no parameter "${shown}"; ${list}`);
}

/** The record given whole (JSON) plus settings given as their own keys; a setting in both is refused. */
function mergeExtras(param: string, whole: unknown, extras: Record<string, unknown>): unknown {
  if (whole === undefined || whole === null) return extras;
  if (typeof whole !== 'object' || Array.isArray(whole)) return whole; // the table refuses it, naming param
  for (const key of Object.keys(extras)) {
    if (Object.hasOwn(whole, key)) {
      const shown = shownName(key);
      throw invalidParameter(shown, `setting "${shown}" is given both in ${param} and as its own parameter`);
    }
  }
  return { ...whole, ...extras };
}

function fromWebForm(form: WebForm, named: Record<string, unknown>): Record<string, unknown> {
  const parsed = form.params.safeParse(named);
  if (parsed.success) return form.toLibrary(parsed.data as Record<string, unknown>);
  const issue = parsed.error.issues[0];
  const parameter = String(issue?.path[0] ?? '(parameters)');
  const problems = parsed.error.issues.map((i) => `${i.path.length > 0 ? i.path.join('.') : '(parameters)'}: ${i.message}`);
  throw invalidParameter(parameter, problems.join('; '));
}
