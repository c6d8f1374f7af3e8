/**
 * The Node flags a build's launcher runs its node agent with, read from that build's
 * bin/handyrep.js (older builds declare no agent flags): benchmarks that start agents of several
 * builds give each its own, so the launcher runs in the started process (no re-spawn) and an older
 * build is measured as it ran.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

export function agentNodeFlagsOf(root: string): string[] {
  const launcher = readFileSync(resolve(root, 'bin', 'handyrep.js'), 'utf8');
  const list = (name: string): string[] => {
    const m = new RegExp(`const ${name} = (\\[[^\\]]*\\]);`).exec(launcher);
    return m ? (JSON.parse((m[1] as string).replaceAll("'", '"')) as string[]) : [];
  };
  const base = list('LAUNCHER_V8_FLAGS');
  return [...(base.length > 0 ? base : list('V8_FLAGS')), ...list('AGENT_V8_FLAGS')];
}
