// Builds dist/ (tsconfig.build.json: the sources under src/ only) when it is missing or older than
// a source file, so the launcher and `npm start` always run compiled JavaScript. Several launchers
// starting at once build once: the first takes a lock folder, the others wait for it.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dashboardIsStale } from '../scripts/build-dashboard.mjs';

const root = fileURLToPath(new URL('../', import.meta.url));
const compiledEntry = `${root}dist/src/cli/main.js`;
const lockDir = `${root}.handyrep-build.lock`;
const LOCK_STALE_MS = 5 * 60_000;
const WAIT_MS = 3 * 60_000;

/** dist/ is missing, or older than some source file. */
export function buildIsStale() {
  if (!existsSync(compiledEntry)) return true;
  const built = statSync(compiledEntry).mtimeMs;
  const srcDir = `${root}src/`;
  return readdirSync(srcDir, { recursive: true }).some((f) => String(f).endsWith('.ts') && statSync(`${srcDir}${f}`).mtimeMs > built);
}

/** The TypeScript compiler, when the development dependencies are installed. */
function compiler() {
  const tsc = `${root}node_modules/typescript/bin/tsc`;
  return existsSync(tsc) ? tsc : null;
}

function sleepSync(ms) {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Take the build lock, or wait until whoever holds it is done (false: it was built meanwhile). */
function takeLock() {
  const deadline = Date.now() + WAIT_MS;
  while (Date.now() < deadline) {
    try {
      mkdirSync(lockDir);
      return true;
    } catch {
      // A lock left by a build that was killed is taken over.
      try {
        if (Date.now() - statSync(lockDir).mtimeMs > LOCK_STALE_MS) rmSync(lockDir, { recursive: true, force: true });
      } catch {
        // gone meanwhile
      }
      sleepSync(200);
      if (!existsSync(lockDir) && !buildIsStale()) return false;
    }
  }
  throw new Error(`waited ${WAIT_MS / 1000} s for another build of dist/ (${lockDir}); remove it if no build runs`);
}

/**
 * Make dist/ current. Returns 'current', 'built', or 'no-compiler' (dist/ is stale or missing and
 * TypeScript is not installed: the caller decides).
 */
export function ensureBuild(log = (line) => process.stderr.write(`${line}\n`)) {
  if (!buildIsStale()) return 'current';
  const tsc = compiler();
  if (tsc === null) return 'no-compiler';
  if (!takeLock()) return 'current';
  try {
    if (!buildIsStale()) return 'current';
    log('handyrep: building dist/ (compiled JavaScript) from src/ ...');
    const started = Date.now();
    const result = spawnSync(process.execPath, [tsc, '-p', `${root}tsconfig.build.json`], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
    // tsc emits even with type errors; those are reported, the emitted code runs.
    if (result.status !== 0) log(`handyrep: the build reported errors (exit ${String(result.status)}):\n${result.stdout}${result.stderr}`);
    if (!existsSync(compiledEntry)) throw new Error('the build produced no dist/src/cli/main.js');
    log(`handyrep: dist/ built in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    return 'built';
  } finally {
    rmSync(lockDir, { recursive: true, force: true });
  }
}

/**
 * Make dist/dashboard current (scripts/build-dashboard.mjs, esbuild). Returns 'current', 'built',
 * 'no-bundler' (esbuild is a development dependency) or 'failed' (the daemon then answers / with
 * 503 and says to run npm run build; the API is unaffected).
 */
export function ensureDashboard(log = (line) => process.stderr.write(`${line}\n`)) {
  if (!dashboardIsStale()) return 'current';
  if (!existsSync(`${root}node_modules/esbuild`)) return 'no-bundler';
  const result = spawnSync(process.execPath, [`${root}scripts/build-dashboard.mjs`], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
  if (result.status !== 0) {
    log(`handyrep: building the dashboard failed (exit ${String(result.status)}):\n${result.stdout}${result.stderr}`);
    return 'failed';
  }
  return 'built';
}
