/**
 * The agent's hands for a planned command (command-plan.ts): argv through a LocalShell (spawned
 * directly, never a shell; the `sh -c` scripts are restart_pg_ctl's constants), file steps with
 * node:fs, the rewind with the controller's own rewind code (runtime/topology/rewind.ts).
 */
import { appendFileSync, rmSync, writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import type { HandyRepConfig } from '../../config/schema.js';
import { describeError } from '../../model/errors.js';
import { LocalShell } from '../../nodes/local-shell.js';
import type { CommandResult, NodeShell } from '../../nodes/ports.js';
import { rewindKeepingConfig } from '../../runtime/topology/rewind.js';
import type { LocalStep } from './command-plan.js';

export type StepRunner = (step: LocalStep, timeoutMs: number) => Promise<CommandResult>;

export function localStepRunner(config: Readonly<HandyRepConfig>, shell: NodeShell = new LocalShell()): StepRunner {
  return async (step, timeoutMs) => {
    const started = performance.now();
    const done = (exitCode: number, stdout: string, stderr = ''): CommandResult => ({ exitCode, stdout, stderr, timedOut: false, durationMs: performance.now() - started });
    try {
      switch (step.kind) {
        case 'argv':
          return await shell.run(step.argv, { timeoutMs });
        case 'append_file':
          appendFileSync(step.path, step.text, { mode: 0o600 });
          return done(0, '');
        case 'write_file':
          writeFileSync(step.path, '', { mode: 0o600 });
          return done(0, '');
        case 'remove_file':
          rmSync(step.path, { force: true });
          return done(0, '');
        case 'rewind': {
          const rewound = await rewindKeepingConfig(shell, config, step.self, step.source, timeoutMs);
          return done(rewound.ok ? 0 : 1, rewound.ok ? rewound.details : '', rewound.ok ? '' : rewound.details);
        }
      }
    } catch (err) {
      return done(1, '', describeError(err));
    }
  };
}
