/**
 * The process groups of the commands the agent's boot runs (pg_basebackup, pg_rewind, initdb and
 * the small file commands around them): every command is spawned as the leader of its own process
 * group (nodes/run-process.ts), and this keeps their ids, in memory and in a file beside the data
 * folder (`<parent of pgdata>/.handyrep-agent-<node>.groups`), so that
 *   - a clean stop of the agent (SIGTERM) kills them (TERM, then KILL after a grace): a copy that
 *     runs for hours no longer holds the agent's stop;
 *   - an agent that was SIGKILLed (or whose host lost power mid-copy) leaves the file behind, and
 *     its next start kills whatever of those groups still runs, before its first round: no orphan
 *     copy writes into a folder the new boot is about to look at.
 * Linux gives no parent-death signal to a Node child (PR_SET_PDEATHSIG is not reachable), hence
 * the file. A group id is trusted only on the same boot (boot_id) and when its leader still has the
 * start time recorded, or, leader gone, when members started no earlier than it: a pid reused by
 * an unrelated process is never signalled.
 */
import { readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { ProcessGroupWatcher } from '../nodes/run-process.js';

export interface GroupEntry {
  readonly pgid: number;
  /** The leader's start time in clock ticks since boot (/proc/<pid>/stat field 22), as text. */
  readonly start: string;
  /** /proc/sys/kernel/random/boot_id when it started. */
  readonly boot: string;
}

/** What /proc says now about one recorded group. */
export interface GroupNow {
  readonly boot: string;
  /** The start time of the process with the group's id, when it still leads that group; else null. */
  readonly leaderStart: string | null;
  /** Start times of the other processes in that group. */
  readonly memberStarts: readonly string[];
}

/** Where the file lives: beside the data folder (a reclone must be able to rename there anyway). */
export function groupsFile(pgdata: string, node: string): string {
  return join(dirname(pgdata), `.handyrep-agent-${node}.groups`);
}

/** pgrp and start time from the text of /proc/<pid>/stat (the name in parentheses may hold anything). Pure. */
export function parseProcStat(text: string): { pgrp: number; start: string } | null {
  const close = text.lastIndexOf(')');
  if (close < 0) return null;
  // After "pid (comm) ": state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime
  // stime cutime cstime priority nice threads itrealvalue starttime …
  const fields = text.slice(close + 2).split(' ');
  const pgrp = Number(fields[2]);
  const start = fields[19];
  return Number.isInteger(pgrp) && start !== undefined && /^\d+$/.test(start) ? { pgrp, start } : null;
}

/** Whether a group from the file is still the agent's own and must be killed. Pure. */
export function isLeftoverOurs(entry: GroupEntry, now: GroupNow): boolean {
  if (entry.boot === '' || entry.boot !== now.boot) return false;
  if (now.leaderStart !== null) return now.leaderStart === entry.start;
  // The leader (e.g. the job's wrapper shell) is gone but its group lives on: its members were
  // started by it, so not before it. A pid reused since would lead its own, newer group.
  return entry.start !== '' && now.memberStarts.some((s) => BigInt(s) >= BigInt(entry.start));
}

/** Parses the file's JSON; anything else gives no entries. Pure. */
export function parseGroupsFile(text: string): GroupEntry[] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return [];
  }
  if (!Array.isArray(value)) return [];
  return value.filter(
    (e): e is GroupEntry =>
      typeof e === 'object' && e !== null && Number.isInteger((e as GroupEntry).pgid) && (e as GroupEntry).pgid > 1 && typeof (e as GroupEntry).start === 'string' && typeof (e as GroupEntry).boot === 'string',
  );
}

function bootId(): string {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return '';
  }
}

function procStat(pid: number): { pgrp: number; start: string } | null {
  try {
    return parseProcStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return null;
  }
}

/** What /proc says about group `pgid` now (one scan of /proc for its members). */
function groupNow(pgid: number, boot: string): GroupNow {
  const leader = procStat(pgid);
  const memberStarts: string[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === pgid) continue;
    const stat = procStat(Number(name));
    if (stat?.pgrp === pgid) memberStarts.push(stat.start);
  }
  return { boot, leaderStart: leader !== null && leader.pgrp === pgid ? leader.start : null, memberStarts };
}

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // gone already
  }
}

/**
 * At the agent's start: kills (SIGKILL) the groups a previous run of this agent left running, then
 * removes the file. Returns what it did, for the log (null: nothing was left).
 */
export function reapLeftoverGroups(file: string): string | null {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return null;
  }
  const boot = bootId();
  const killed: number[] = [];
  for (const entry of parseGroupsFile(text)) {
    if (!isLeftoverOurs(entry, groupNow(entry.pgid, boot))) continue;
    signalGroup(entry.pgid, 'SIGKILL');
    killed.push(entry.pgid);
  }
  rmSync(file, { force: true });
  return killed.length > 0 ? `killed process group(s) ${killed.join(', ')} left running by the previous run of this agent (a copy or rewind it did not see end)` : null;
}

/** The groups of the boot's running commands (a ProcessGroupWatcher for LocalShell). */
export class CopyGroups implements ProcessGroupWatcher {
  readonly #entries = new Map<number, GroupEntry>();
  readonly #boot = bootId();
  #saveFailed = false;

  constructor(
    readonly file: string,
    private readonly log: (line: string) => void,
  ) {}

  started(pgid: number): void {
    this.#entries.set(pgid, { pgid, start: procStat(pgid)?.start ?? '', boot: this.#boot });
    this.#save();
  }

  ended(pgid: number): void {
    if (this.#entries.delete(pgid)) this.#save();
  }

  get running(): readonly number[] {
    return [...this.#entries.keys()];
  }

  /** SIGTERM to every running group, SIGKILL to those still alive after `graceMs`. Returns how many were running. */
  async cancel(graceMs = 2000): Promise<number> {
    const groups = this.running;
    for (const pgid of groups) signalGroup(pgid, 'SIGTERM');
    const until = Date.now() + graceMs;
    while (groups.some(groupAlive) && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 50));
    for (const pgid of groups.filter(groupAlive)) signalGroup(pgid, 'SIGKILL');
    return groups.length;
  }

  /** Written whole and renamed into place: a crash mid-write leaves the old file, never half of one. */
  #save(): void {
    try {
      if (this.#entries.size === 0) {
        rmSync(this.file, { force: true });
        return;
      }
      const temporary = `${this.file}.${process.pid}.tmp`;
      writeFileSync(temporary, JSON.stringify([...this.#entries.values()]), { mode: 0o600 });
      renameSync(temporary, this.file);
      this.#saveFailed = false;
    } catch (err) {
      // Not fatal (the copy still runs, a clean stop still kills it); said once until it works again.
      if (!this.#saveFailed) this.log(`cannot record the copy's process group in ${this.file} (an agent killed now would leave it running): ${(err as Error).message}`);
      this.#saveFailed = true;
    }
  }
}
