/**
 * Calls an operation by name with named parameters: the bridge the daemon's routes and the CLI
 * use to reach the HandyRep class through the operations table. Calls from the web are guarded
 * first (web-guard.ts).
 */
import { HandyRepError } from '../model/errors.js';
import type { HandyRep } from './handyrep.js';
import { findOperation, parseParams, type OperationName } from './operations.js';
import { guardWebCall, type CallOrigin } from './web-guard.js';

type OperationMethod = (...args: unknown[]) => Promise<unknown>;

export async function invokeOperation(hr: HandyRep, name: string, named: Readonly<Record<string, unknown>>, origin: CallOrigin): Promise<unknown> {
  const spec = findOperation(name);
  if (!spec) throw new HandyRepError('UNKNOWN_FUNCTION', `no API function named "${name}"`);
  const parsed = parseParams(name as OperationName, named);
  if (origin === 'web') guardWebCall(spec, parsed);
  const method = (hr as unknown as Record<string, OperationMethod | undefined>)[name];
  if (typeof method !== 'function') throw new HandyRepError('UNKNOWN_FUNCTION', `operation ${name} has no implementation`);
  // Trailing parameters the caller did not give stay undefined so the method applies its defaults.
  const args = spec.positional.map((p) => (Object.hasOwn(named, p) ? parsed[p] : undefined));
  while (args.length > 0 && args[args.length - 1] === undefined) args.pop();
  return method.apply(hr, args);
}
