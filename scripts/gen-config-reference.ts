/**
 * Writes docs/configuration.md from the configuration schema. With `--check` it writes nothing and
 * exits 1 when the committed file differs from what the schema gives (CI's drift check).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { renderConfigReference } from '../src/config/reference.js';

const TARGET = 'docs/configuration.md';
const targetPath = fileURLToPath(new URL(`../${TARGET}`, import.meta.url));

function readCurrent(): string | null {
  try {
    return readFileSync(targetPath, 'utf8');
  } catch {
    // A missing file is simply out of date.
    return null;
  }
}

const expected = renderConfigReference();
if (process.argv.includes('--check')) {
  if (readCurrent() !== expected) {
    console.error(`${TARGET} is out of date: run npm run gen:config-reference`);
    process.exit(1);
  }
  console.log(`${TARGET} is up to date`);
} else {
  writeFileSync(targetPath, expected);
  console.log(`wrote ${TARGET}`);
}
