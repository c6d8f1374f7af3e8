/**
 * Calls an operation by name with named parameters: the bridge the daemon's routes and the CLI
 * use to reach the HandyRep class through the operations table. The method validates its
 * parameters (through the same table); this refuses names the operation does not have, which a
 * positional call could not carry, and guards calls from the web first (web-guard.ts).
 */
import { HandyRepError } from '../model/errors.js';
import type { HandyRep } from './handyrep.js';
import { findOperation } from './operations.js';
import { guardWebCall, type CallOrigin } from './web-guard.js';

type OperationMethod = (...args: unknown[]) => Promise<unknown>;

export async function invokeOperation(hr: HandyRep, name: string, named: Readonly<Record<string, unknown>>, origin: CallOrigin): Promise<unknown> {
  const spec = findOperation(name);
  if (!spec) throw new HandyRepError('UNKNOWN_FUNCTION', `no API function named "${name}"`);
  const unknown = Object.keys(named).filter((key) => !spec.positional.includes(key));
  if (unknown.length > 0) {
    const error = new HandyRepError('INVALID_PARAMETER', `${name}: (parameters): Unrecognized key${unknown.length > 1 ? 's' : ''}: ${unknown.map((k) => `"${k}"`).join(', ')}`);
    throw Object.assign(error, { parameter: unknown[0] });
  }
  // Guarded on the raw values: anything present that only the controller may give is refused,
  // whatever its type (the method validates types after).
  if (origin === 'web') guardWebCall(spec, named);
  // etcd_lease: a follower runs no admin operation (the daemon forwards it to the leader).
  if (spec.access === 'admin') hr.assertLeadsFor(spec.name);
  const method = (hr as unknown as Record<string, OperationMethod | undefined>)[name];
  if (typeof method !== 'function') throw new HandyRepError('UNKNOWN_FUNCTION', `operation ${name} has no implementation`);
  return method.apply(hr, spec.positional.map((p) => (Object.hasOwn(named, p) ? named[p] : undefined)));
}
