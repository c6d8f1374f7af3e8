/**
 * Checks that every relative link in README.md, CHANGELOG.md and docs/*.md points at a file of the repository
 * (anchors are not checked). Part of the test command, so a moved or renamed page cannot leave dead links.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const pages = ['README.md', 'CHANGELOG.md', ...readdirSync(join(root, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];
const LINK = /\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g;

const dead: string[] = [];
for (const page of pages) {
  const text = readFileSync(join(root, page), 'utf8').replace(/```[\s\S]*?```/g, '');
  for (const match of text.matchAll(LINK)) {
    const target = match[1] ?? '';
    if (/^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith('#')) continue;
    const path = target.split('#')[0] ?? '';
    const file = resolve(dirname(join(root, page)), decodeURI(path));
    if (!existsSync(file)) dead.push(`${page}: ${target} (no ${relative(root, file)})`);
  }
}
if (dead.length > 0) {
  console.error(`dead links in the documentation:\n${dead.map((d) => `  ${d}`).join('\n')}`);
  process.exit(1);
}
console.log(`documentation links: ${pages.length} pages checked`);
