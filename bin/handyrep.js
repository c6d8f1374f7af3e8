#!/usr/bin/env -S node --max-semi-space-size=2
// The `handyrep` launcher. HandyRep runs with a 2 MB V8 young generation (README, Benchmarks:
// 90 MB RSS instead of 118 MB at the same latency), so when Node was started without that flag
// (`node bin/handyrep.js ...`) this re-runs itself with it, forwarding signals and the exit code.
// It runs the compiled dist/ (`npm run build`); without dist/, when dist/ is older than a source
// file (a checkout or an edit since the last build), or with HANDYREP_SOURCE=1, the TypeScript
// sources through tsx (a development dependency). HANDYREP_SOURCE=0 forces dist/.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { constants } from 'node:os';
import { fileURLToPath } from 'node:url';

const V8_FLAG = '--max-semi-space-size=2';
const compiled = new URL('../dist/src/cli/main.js', import.meta.url);
const source = new URL('../src/cli/main.ts', import.meta.url);

if (!process.execArgv.includes(V8_FLAG)) {
  // Its own process group, so a terminal's Ctrl-C reaches it once (forwarded from here), not twice
  // (a second SIGINT means "exit without a clean stop" to the daemon).
  const child = spawn(process.execPath, [...process.execArgv, V8_FLAG, fileURLToPath(import.meta.url), ...process.argv.slice(2)], {
    stdio: 'inherit',
    detached: true,
  });
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP']) process.on(signal, () => child.kill(signal));
  child.on('exit', (code, signal) => process.exit(code ?? 128 + (signal ? constants.signals[signal] : 0)));
} else {
  const fromSource = process.env.HANDYREP_SOURCE === '1' || !existsSync(compiled) || (process.env.HANDYREP_SOURCE !== '0' && staleBuild());
  if (fromSource) (await import('tsx/esm/api')).register();
  const { main } = await import(fromSource ? source.href : compiled.href);
  process.exit(await main(process.argv.slice(2)));
}

/** dist/ is older than some source file, and tsx is there to run the sources. */
function staleBuild() {
  try {
    const built = statSync(compiled).mtimeMs;
    const srcDir = fileURLToPath(new URL('../src/', import.meta.url));
    const newer = readdirSync(srcDir, { recursive: true }).some((f) => String(f).endsWith('.ts') && statSync(`${srcDir}${f}`).mtimeMs > built);
    return newer && existsSync(fileURLToPath(new URL('../node_modules/tsx/package.json', import.meta.url)));
  } catch {
    return false;
  }
}
