/**
 * The Node flags `bin/handyrep.js` runs HandyRep with (it re-runs itself with them when Node was
 * started without), for the code that starts HandyRep processes itself (the demo, test beds,
 * benchmarks): given here, the launcher runs in that process instead of re-spawning itself, so
 * the pid started is the one that works. bin/handyrep.js keeps its own copy (it runs before
 * anything is compiled); test/unit/launcher-flags.test.ts checks that both say the same.
 */

/** Every command: a 2 MB young generation and V8's smallest worker pool (docs/benchmarks.md). */
export const LAUNCHER_V8_FLAGS: readonly string[] = ['--max-semi-space-size=2', '--v8-pool-size=0'];

/**
 * The node agent besides:
 *   - no V8 background threads: V8's one worker thread (concurrent marking, parallel scavenges,
 *     compiler jobs) woke one to two times a second beside an idle round, each wake a thread switch
 *     the main thread waits on. On a virtual machine an idle wake-up is what an idle agent mostly
 *     pays for (docs/node-agent.md, "Where an idle agent's CPU goes");
 *   - no optimizing compiler: an agent's functions run a few times a second, so they reach
 *     TurboFan one by one for hours, and on a single thread every compile and deoptimization is
 *     paid by the main thread (perf: 7 % of an idle master agent's CPU). Its work is a few
 *     milliseconds of I/O glue a second, where optimized code saves nothing measurable; the
 *     interpreter and the baseline compiler stay. Paired replicas on one bed: 3–17 % less CPU
 *     (docs/node-agent.md, "fifth look").
 */
export const AGENT_V8_FLAGS: readonly string[] = ['--single-threaded', '--no-opt'];

/** The command's name: the first argument that is not an option (`agent`, `daemon`, ...). */
export function commandOf(args: readonly string[]): string | undefined {
  return args.find((a) => !a.startsWith('-'));
}

/** The flags `handyrep <args>` runs with. */
export function launcherFlags(args: readonly string[]): string[] {
  return [...LAUNCHER_V8_FLAGS, ...(commandOf(args) === 'agent' ? AGENT_V8_FLAGS : [])];
}
