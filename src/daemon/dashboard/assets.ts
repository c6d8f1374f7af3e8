/**
 * The dashboard's built files (dist/dashboard, made by scripts/build-dashboard.mjs at build time),
 * read once into memory with a gzip copy. Only names in this table are served: a request path
 * never reaches the file system.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

export interface DashboardAsset {
  readonly body: Buffer;
  readonly gzip: Buffer;
  readonly type: string;
}

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/** The package root: the nearest folder above this file with a package.json (works from src/ and dist/src/). */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('package.json not found above the daemon');
    dir = up;
  }
  return dir;
}

/** Where the bundle is built. */
export const DASHBOARD_DIST = join(packageRoot(), 'dist', 'dashboard');

/** The built files by name; empty when the dashboard was not built. */
export function loadDashboardAssets(dir = DASHBOARD_DIST): ReadonlyMap<string, DashboardAsset> {
  const assets = new Map<string, DashboardAsset>();
  if (!existsSync(dir)) return assets;
  for (const name of readdirSync(dir)) {
    const type = TYPES[name.slice(name.lastIndexOf('.'))];
    if (type === undefined) continue;
    const body = readFileSync(join(dir, name));
    assets.set(name, { body, gzip: gzipSync(body, { level: 9 }), type });
  }
  return assets;
}
