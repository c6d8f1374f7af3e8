import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { AGENT_V8_FLAGS, commandOf, LAUNCHER_V8_FLAGS, launcherFlags } from '../../src/cli/launcher-flags.js';

const launcher = readFileSync(new URL('../../bin/handyrep.js', import.meta.url), 'utf8');
const listIn = (name: string): string[] => {
  const m = new RegExp(`const ${name} = (\\[[^\\]]*\\]);`).exec(launcher);
  assert.ok(m, `bin/handyrep.js declares ${name}`);
  return JSON.parse((m[1] as string).replaceAll("'", '"')) as string[];
};

test('bin/handyrep.js runs with the same flags as src/cli/launcher-flags.ts says', () => {
  assert.deepEqual(listIn('LAUNCHER_V8_FLAGS'), LAUNCHER_V8_FLAGS);
  assert.deepEqual(listIn('AGENT_V8_FLAGS'), AGENT_V8_FLAGS);
  assert.match(launcher.split('\n')[0] as string, new RegExp(`^#!/usr/bin/env -S node ${LAUNCHER_V8_FLAGS.join(' ')}$`));
});

test('the agent runs single-threaded, other commands do not', () => {
  assert.deepEqual(launcherFlags(['agent', '--config', 'a.yaml', '--node', 'john']), [...LAUNCHER_V8_FLAGS, '--single-threaded', '--no-opt']);
  assert.deepEqual(launcherFlags(['daemon', '--config', 'a.yaml']), [...LAUNCHER_V8_FLAGS]);
  // A server named "agent" given to another command is not the agent.
  assert.deepEqual(launcherFlags(['clone', 'agent']), [...LAUNCHER_V8_FLAGS]);
  assert.equal(commandOf(['--help']), undefined);
  assert.deepEqual(launcherFlags([]), [...LAUNCHER_V8_FLAGS]);
});

test('the systemd units start node with the launcher flags of their command (no re-spawned child)', () => {
  for (const [unit, command] of [['handyrep.service', 'daemon'], ['handyrep-agent.service', 'agent']] as const) {
    const text = readFileSync(new URL(`../../contrib/systemd/${unit}`, import.meta.url), 'utf8');
    const exec = /^ExecStart=(.*)$/m.exec(text)?.[1] ?? '';
    assert.match(exec, new RegExp(`^/usr/bin/node ${launcherFlags([command]).join(' ')} /opt/handyrep/bin/handyrep\\.js ${command} `), unit);
  }
});
