/** A process's CPU time and RSS from /proc, and the load average: the idle-cost benchmarks' gauges. */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

export const CLOCK_TICKS = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());

/** The 1, 5 and 15 minute load averages, as /proc/loadavg prints them. */
export const loadAverage = (): string => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

/** utime + stime of `pid`, in clock ticks (CLOCK_TICKS a second). */
export function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name, which is in parentheses and may hold spaces.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

/** Resident set size of `pid` in MB (NaN when /proc does not say). */
export function rssMb(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) / 1024 : NaN;
}

/**
 * On-CPU time of every thread of `pid` in nanoseconds, from the scheduler's own accounting
 * (/proc/<pid>/task/<tid>/schedstat): exact where utime + stime are sampled at each clock tick,
 * so a short window of a process that wakes briefly is not a matter of which ticks it met.
 * Threads that ended during a window are missed (Node's threads live as long as the process).
 */
export function cpuNs(pid: number): number {
  let total = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      total += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return total;
}
