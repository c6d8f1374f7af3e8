// Bundles the dashboard (dashboard/ → dist/dashboard/) with esbuild: one app.js, one app.css and
// index.html, everything from node_modules (Preact, htm, uPlot), nothing fetched at run time.
// Plain JavaScript so the launcher (bin/ensure-build.js) can run it without tsx. esbuild's native
// binary comes as an optional dependency package (@esbuild/<platform>), so it works without
// install scripts (npm 11 runs none by default).
import { copyFileSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../', import.meta.url));
const sourceDir = `${root}dashboard/`;
export const dashboardOut = `${root}dist/dashboard/`;

function newestSource() {
  return readdirSync(sourceDir, { recursive: true })
    .filter((f) => /\.(ts|css|html)$/.test(String(f)))
    .reduce((newest, f) => Math.max(newest, statSync(`${sourceDir}${f}`).mtimeMs), 0);
}

/** dist/dashboard is missing or older than a dashboard source. */
export function dashboardIsStale() {
  const bundle = `${dashboardOut}app.js`;
  if (!existsSync(bundle) || !existsSync(`${dashboardOut}index.html`)) return true;
  return newestSource() > statSync(bundle).mtimeMs;
}

/** Build the bundle; returns its size in bytes (before compression). */
export async function buildDashboard() {
  const esbuild = await import('esbuild');
  mkdirSync(dashboardOut, { recursive: true });
  // Built aside, then each file renamed into place: a daemon starting meanwhile (or a second
  // launcher building at the same time) never reads a half-written file.
  const staging = `${root}dist/.dashboard-${process.pid}/`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  try {
    return await buildInto(esbuild, staging);
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

async function buildInto(esbuild, staging) {
  const result = await esbuild.build({
    entryPoints: { app: `${sourceDir}src/main.ts` },
    bundle: true,
    minify: true,
    format: 'esm',
    target: ['es2022'],
    outdir: staging,
    tsconfig: `${sourceDir}tsconfig.json`,
    legalComments: 'linked',
    metafile: true,
    logLevel: 'warning',
  });
  copyFileSync(`${sourceDir}index.html`, `${staging}index.html`);
  // The page last: it names the bundle, which is then in place.
  for (const name of readdirSync(staging).sort((a, b) => Number(a === 'index.html') - Number(b === 'index.html'))) {
    renameSync(`${staging}${name}`, `${dashboardOut}${name}`);
  }
  return Object.values(result.metafile.outputs).reduce((sum, o) => sum + o.bytes, 0);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const size = await buildDashboard();
  process.stderr.write(`dashboard: built dist/dashboard (${(size / 1024).toFixed(0)} kB)\n`);
}
