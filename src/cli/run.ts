/**
 * Running one operation for a CLI command: open the transport (daemon or --local), call, show
 * progress for long actions, print the answer (human or --json) and choose the exit code
 * (0 answered, 1 an RD with result FAIL; errors are CliErrors carrying their own code).
 */
import { findOperation, type OperationSpec } from '../api/operations.js';
import { CliError, usageError } from './cli-error.js';
import { resolveClientSettings } from './connection.js';
import { EXIT, type ExitCode } from './exit-codes.js';
import { formatActionProgress, formatResult, formatStatus, isRd, type Style } from './format.js';
import type { CliIo } from './io.js';
import { parseNumber } from './params.js';
import { startProgress, type Progress } from './progress.js';
import { httpTransport, localTransport, type Transport } from './transport.js';

/** Options every client command takes (merged from the program and the command). */
export interface ClientOptions {
  url?: string;
  user?: string;
  password?: string;
  clientConfig?: string;
  local?: boolean;
  config?: string;
  /** true: print JSON; a string: a JSON object of settings (record commands), handled before here. */
  json?: boolean | string;
  timeout?: string;
}

/** Functions that can take long: a progress line while they run. */
const LONG_ACTIONS: ReadonlySet<string> = new Set(['manual_failover', 'promote', 'clone', 'rejoin', 'remaster', 'restart_master']);

/** Default answer timeouts: reads are quick, actions wait for the cluster, a clone may take hours. */
function defaultTimeoutMs(spec: OperationSpec): number {
  if (spec.name === 'clone') return 24 * 3600 * 1000;
  return spec.access === 'read' ? 60_000 : 15 * 60_000;
}

/** The configuration file of --local: --config, else $HANDYREP_CONFIG, else handyrep.yaml. */
export function localConfigFile(options: ClientOptions, env: NodeJS.ProcessEnv): string {
  return options.config ?? env['HANDYREP_CONFIG'] ?? 'handyrep.yaml';
}

/** Open the daemon connection or the library, as the options say. */
export async function openTransport(options: ClientOptions, io: CliIo, spec: OperationSpec): Promise<Transport> {
  if (options.local) return localTransport(localConfigFile(options, io.env));
  if (options.config !== undefined) throw usageError('--config is for library mode: add --local (or give the daemon with --url)');
  if (!spec.web) throw usageError(`${spec.name} is library-only (not on the web API): run it with --local --config <file>`);
  const settings = resolveClientSettings(options, io.env);
  for (const warning of settings.warnings) io.err(`${warning}\n`);
  let timeoutMs = defaultTimeoutMs(spec);
  if (options.timeout !== undefined) {
    const seconds = parseNumber(options.timeout);
    if (seconds === null || seconds <= 0) throw usageError(`--timeout: "${options.timeout}" is not a positive number of seconds`);
    timeoutMs = Math.round(seconds * 1000);
  }
  return httpTransport(settings, { connectTimeoutMs: 10_000, timeoutMs });
}

export function styleOf(io: CliIo): Style {
  return { color: io.color, columns: io.columns };
}

/** The target server of a clone: its first parameter. */
function cloneTarget(spec: OperationSpec, params: Readonly<Record<string, unknown>>): string | null {
  const first = spec.positional[0];
  const value = first === undefined ? undefined : params[first];
  return typeof value === 'string' ? value : null;
}

/** While a clone runs, poll its target's action_progress and show it. */
function watchClone(transport: Transport, target: string, progress: Progress): { stop(): Promise<void> } {
  let running = true;
  const loop = (async () => {
    while (running) {
      await new Promise((resolve) => setTimeout(resolve, 1000));
      if (!running) break;
      try {
        const info = (await transport.call('get_server_info', { servername: target }, { timeoutMs: 10_000 })) as Record<string, { action_progress?: unknown }>;
        const text = formatActionProgress(info[target]?.action_progress);
        if (text && running) progress.update(text);
      } catch {
        // Progress is best effort: the clone's own answer decides.
      }
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
    },
  };
}

/** Call `spec` with `params` on `transport`, with a progress line for long actions. */
export async function callWithProgress(transport: Transport, spec: OperationSpec, params: Readonly<Record<string, unknown>>, io: CliIo, json: boolean): Promise<unknown> {
  const long = LONG_ACTIONS.has(spec.name) && params['dry_run'] !== true;
  // Quick functions get no indicator; long ones one (quiet in --json mode unless on a terminal).
  const showProgress = long ? io.interactive || !json : false;
  if (!showProgress) return transport.call(spec.name, params);
  const progress = startProgress(io, spec.name, { quiet: json });
  const target = spec.name === 'clone' ? cloneTarget(spec, params) : null;
  const watcher = target !== null && params['wait'] !== false ? watchClone(transport, target, progress) : null;
  try {
    return await transport.call(spec.name, params);
  } finally {
    await watcher?.stop();
    progress.stop();
  }
}

/** Print an answer: JSON, or the human form (get_status as the cluster table). */
async function printResult(transport: Transport, spec: OperationSpec, result: unknown, io: CliIo, json: boolean): Promise<void> {
  if (json) {
    io.out(`${JSON.stringify(result, null, 2)}\n`);
    return;
  }
  if (spec.name === 'get_status' && !isRd(result)) {
    // Lag and timeline come from get_server_info (cached, cheap); the table does without them if it fails.
    const info = await transport.call('get_server_info', {}, { timeoutMs: 10_000 }).catch(() => null);
    io.out(`${formatStatus(result, info, styleOf(io))}\n`);
    return;
  }
  io.out(`${formatResult(spec.name, result, styleOf(io))}\n`);
}

/** Run one operation end to end; resolves with the exit code. */
export async function runOperation(name: string, params: Readonly<Record<string, unknown>>, options: ClientOptions, io: CliIo): Promise<ExitCode> {
  const spec = findOperation(name);
  if (!spec) throw usageError(`no function named ${name} in this version of HandyRep`);
  const json = options.json === true;
  const transport = await openTransport(options, io, spec);
  try {
    const result = await callWithProgress(transport, spec, params, io, json);
    await printResult(transport, spec, result, io, json);
    return isRd(result) && result.result === 'FAIL' ? EXIT.FAILURE : EXIT.OK;
  } catch (err) {
    if (json && err instanceof CliError && err.body !== undefined) io.out(`${JSON.stringify(err.body, null, 2)}\n`);
    throw err;
  } finally {
    await transport.close();
  }
}
