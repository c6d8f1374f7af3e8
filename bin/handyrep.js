#!/usr/bin/env -S node --max-semi-space-size=2 --v8-pool-size=0
// The `handyrep` launcher. HandyRep runs with a 2 MB V8 young generation (README, Benchmarks:
// 90 MB RSS instead of 118 MB at the same latency) and with V8's worker pool at its smallest
// (`--v8-pool-size=0` is Node's "choose a size": one worker on 2 cores instead of four; their
// memory is ~9 MB of an idle daemon's RSS; bench:idle), so when Node was started
// without those flags (`node bin/handyrep.js ...`) this re-runs itself with them, forwarding
// signals and the exit code. The node agent also runs without V8 background threads
// (`--single-threaded --no-opt`: less idle CPU; src/cli/launcher-flags.ts says why and holds the
// same lists for code that starts HandyRep processes; a unit test keeps them equal), added
// when this re-runs itself; started through the line above (`handyrep agent`), it does NOT re-run
// itself for those flags alone: a second process would outlive a SIGKILLed first one. The systemd
// unit starts node with every flag.
// It runs the compiled dist/, building it first when it is missing or older than a source file
// (bin/ensure-build.js; TypeScript is a development dependency). HANDYREP_SOURCE=1 runs the
// TypeScript sources through tsx instead (development); HANDYREP_SOURCE=0 runs dist/ as it is.
// The dashboard bundle (dist/dashboard) is built the same way when missing or stale.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { constants } from 'node:os';
import { fileURLToPath } from 'node:url';
import { ensureBuild, ensureDashboard } from './ensure-build.js';

const LAUNCHER_V8_FLAGS = ['--max-semi-space-size=2', '--v8-pool-size=0'];
const AGENT_V8_FLAGS = ['--single-threaded', '--no-opt'];
const command = process.argv.slice(2).find((a) => !a.startsWith('-'));
const V8_FLAGS = [...LAUNCHER_V8_FLAGS, ...(command === 'agent' ? AGENT_V8_FLAGS : [])];
const compiled = new URL('../dist/src/cli/main.js', import.meta.url);
const source = new URL('../src/cli/main.ts', import.meta.url);

if (!LAUNCHER_V8_FLAGS.every((flag) => process.execArgv.includes(flag))) {
  // Its own process group, so a terminal's Ctrl-C reaches it once (forwarded from here), not twice
  // (a second SIGINT means "exit without a clean stop" to the daemon).
  const child = spawn(process.execPath, [...process.execArgv, ...V8_FLAGS.filter((flag) => !process.execArgv.includes(flag)), fileURLToPath(import.meta.url), ...process.argv.slice(2)], {
    stdio: 'inherit',
    detached: true,
  });
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP']) process.on(signal, () => child.kill(signal));
  child.on('exit', (code, signal) => process.exit(code ?? 128 + (signal ? constants.signals[signal] : 0)));
} else {
  // The dashboard bundle is built from dashboard/ by esbuild whichever way the code runs.
  if (process.env.HANDYREP_SOURCE !== '0') ensureDashboard();
  const fromSource = process.env.HANDYREP_SOURCE === '1' || (process.env.HANDYREP_SOURCE !== '0' && !compiledIsReady());
  if (fromSource) (await import('tsx/esm/api')).register();
  const { main } = await import(fromSource ? source.href : compiled.href);
  process.exit(await main(process.argv.slice(2)));
}

/** dist/ is current (built now if it was not); false only when it cannot be built here. */
function compiledIsReady() {
  const state = ensureBuild();
  if (state !== 'no-compiler') return true;
  if (!existsSync(compiled)) {
    process.stderr.write('handyrep: dist/ is missing and TypeScript is not installed: running the sources through tsx\n');
    return false;
  }
  process.stderr.write('handyrep: dist/ is older than src/ and TypeScript is not installed: running the old build\n');
  return true;
}
