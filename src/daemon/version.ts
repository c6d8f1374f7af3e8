/** HandyRep's version, from the package.json above this module (in src/ or in dist/src/). */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let cached: string | undefined;

/** The `version` of HandyRep's package.json, or 0.0.0 when it cannot be found. */
export function packageVersion(): string {
  if (cached !== undefined) return cached;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let depth = 0; depth < 6; depth += 1) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'handyrep' && typeof pkg.version === 'string') return (cached = pkg.version);
    } catch {
      // No package.json here: look one folder up.
    }
    dir = dirname(dir);
  }
  return (cached = '0.0.0');
}
