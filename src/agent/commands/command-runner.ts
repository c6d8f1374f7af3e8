/**
 * The agent's hands for a planned command (command-plan.ts): argv through a LocalShell (spawned
 * directly, never a shell; the `sh -c` scripts are restart_pg_ctl's constants), file steps with
 * node:fs, the rewind with the controller's own rewind code (runtime/topology/rewind.ts), a clone
 * with the boot's (clone-step.ts).
 */
import { randomBytes } from 'node:crypto';
import { appendFileSync, chmodSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { HandyRepConfig } from '../../config/schema.js';
import { describeError } from '../../model/errors.js';
import { LocalShell } from '../../nodes/local-shell.js';
import type { CommandResult, NodeShell } from '../../nodes/ports.js';
import type { ProcessGroupWatcher } from '../../nodes/run-process.js';
import { DEFAULT_ARCHIVE_TEMPLATE, renderTemplate } from '../../plugins/archive/archive_local_dir.js';
import { rewindKeepingConfig } from '../../runtime/topology/rewind.js';
import { runCloneStep } from './clone-step.js';
import type { LocalStep } from './command-plan.js';

/** `progress`: how far a long step is (a clone's copy: bytes done and total, each null when unknown). */
export type StepRunner = (
  step: LocalStep,
  timeoutMs: number,
  progress?: (bytesDone: number | null, bytesTotal: number | null) => void,
  /** Aborted when the command's record is deleted while it runs (honoured by the clone step). */
  signal?: AbortSignal,
) => Promise<CommandResult>;

export function localStepRunner(config: Readonly<HandyRepConfig>, shell: NodeShell = new LocalShell(), log: (line: string) => void = () => undefined, groups?: ProcessGroupWatcher): StepRunner {
  return async (step, timeoutMs, progress, signal) => {
    const started = performance.now();
    const done = (exitCode: number, stdout: string, stderr = ''): CommandResult => ({ exitCode, stdout, stderr, timedOut: false, durationMs: performance.now() - started });
    // Not in the try: a program that cannot be started is no exit code (the executor answers `failed`,
    // the controller sees CONTROL_CHANNEL as over ssh: pg_isready's exit 1 would read "answering").
    if (step.kind === 'argv') return shell.run(step.argv, { timeoutMs });
    if (step.kind === 'clone') return runCloneStep(config, step, timeoutMs, log, progress, signal, groups);
    try {
      switch (step.kind) {
        case 'append_file':
          appendFileSync(step.path, step.text, { mode: 0o600 });
          return done(0, '');
        case 'write_file':
          if (step.makeParent === true) mkdirSync(dirname(step.path), { recursive: true });
          writeFileSync(step.path, '', { mode: 0o600 });
          return done(0, '');
        case 'make_dir':
          mkdirSync(step.path, { recursive: true, mode: 0o700 });
          return done(0, '');
        case 'archive_script': {
          const template = step.template === null ? DEFAULT_ARCHIVE_TEMPLATE : readFileSync(step.template, 'utf8');
          writeAtomically(step.path, renderTemplate(template, step.values), 0o700);
          return done(0, `archive script written to ${step.path}`);
        }
        case 'remove_file':
          rmSync(step.path, { force: true });
          return done(0, '');
        case 'rewind': {
          const rewound = await rewindKeepingConfig(shell, config, step.self, step.source, timeoutMs, undefined, config.agent.pg_log_file);
          return done(rewound.ok ? 0 : 1, rewound.ok ? rewound.details : '', rewound.ok ? '' : rewound.details);
        }
      }
    } catch (err) {
      return done(1, '', describeError(err));
    }
  };
}

/** A temporary file beside `path`, renamed over it: a reader never sees half a script. */
function writeAtomically(path: string, text: string, mode: number): void {
  mkdirSync(dirname(path), { recursive: true });
  const temporary = `${path}.tmp.${randomBytes(5).toString('hex')}`;
  try {
    writeFileSync(temporary, text, { mode });
    chmodSync(temporary, mode);
    renameSync(temporary, path);
  } catch (err) {
    rmSync(temporary, { force: true });
    throw err;
  }
}
