/**
 * What a call from the network may not do, whatever its password: give a parameter the
 * operations table reserves for the controller's command line (reload_conf's config_file), or set
 * a server setting the schema marks configuration-file-only (the program folder, OS user, SSH
 * identity, plugins: what runs where). Either would let an API caller run code of its choosing
 * on the controller or a node. The library and `--local` commands are not guarded: whoever runs
 * them already runs code on the controller.
 */
import { configOnlyServerSettings } from '../config/marked-settings.js';
import { HandyRepError } from '../model/errors.js';
import type { OperationSpec } from './operations.js';

/** Where a call comes from: the web API (daemon) or the controller itself (library, `--local`). */
export type CallOrigin = 'web' | 'controller';

/** A FORBIDDEN error naming the parameter (or setting) that was refused. */
function forbidden(parameter: string, message: string): HandyRepError & { parameter: string } {
  return Object.assign(new HandyRepError('FORBIDDEN', message), { parameter });
}

/** Throws FORBIDDEN when a web call gives what only the controller may give; `params` are parsed. */
export function guardWebCall(spec: OperationSpec, params: Readonly<Record<string, unknown>>): void {
  for (const name of spec.localOnly ?? []) {
    const value = params[name];
    if (value !== undefined && value !== null) {
      throw forbidden(name, `${spec.name}: ${name} is refused over the web API: only the controller's command line may name another file (the daemon re-reads the file it was started with when ${name} is left out)`);
    }
  }
  if (spec.serverSettings === undefined) return;
  const settings = params[spec.serverSettings];
  if (typeof settings !== 'object' || settings === null) return;
  const reserved = configOnlyServerSettings();
  const refused = Object.keys(settings).filter((key) => reserved.has(key));
  const first = refused[0];
  if (first !== undefined) {
    throw forbidden(first, `${spec.name}: ${refused.join(', ')} can be set in the configuration file only, not through the web API (${refused.length === 1 ? 'it chooses' : 'they choose'} what runs on the controller or the node)`);
  }
}
