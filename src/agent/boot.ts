/**
 * Role discovery when the agent starts (design §9 rule 3), as a pure function: PostgreSQL that is
 * not running is started in the role the `master` key gives it, and never writable unless this
 * node is the recorded master. PostgreSQL already running is left to the rounds (decide.ts
 * demotes a writable one that must not be). Asked again until it decided something (a start that
 * succeeded, or PostgreSQL found running; boot-runner.ts spaces out the attempts that failed);
 * after that the agent never starts PostgreSQL on its own again, so an operator's stop stays a stop.
 *
 * The data folder decides between starting what is there and making it: a folder holding data is
 * never initdb'd over nor copied over (a reclone moves it aside first); one that is missing, empty,
 * or holds only the node's configuration files is a new node: it is cloned from the recorded
 * master, or, when nothing is recorded and this node is `agent.bootstrap_node`, this agent may create the
 * cluster (the `master` key taken by a create-only transaction first, so of agents racing exactly
 * one does). Anything else in the folder (or a folder that cannot be inspected) is left alone.
 */
import type { TargetFolder } from '../engine/clone-plan.js';
import type { MasterRecord } from '../store/etcd/master-record.js';
import type { MasterKeyView } from './decide.js';

export type BootstrapMode = 'off' | 'initdb';

export type BootPlan =
  | { readonly kind: 'start_master'; readonly sentence: string }
  /**
   * pg_rewind onto `master` (it says itself when no rewind is needed), standby.signal, primary_conninfo,
   * start; when the rewind fails and `reclone` is on, the old folder is moved aside and copied anew.
   */
  | { readonly kind: 'start_standby'; readonly master: string; readonly reclone: boolean; readonly sentence: string }
  /** A new node: copy the recorded master into the (missing, empty or configuration-only) folder, start as its standby. */
  | { readonly kind: 'clone'; readonly master: string; readonly sentence: string }
  /** Nothing recorded, a new node allowed to bootstrap: take `master` create-only, then initdb and start. */
  | { readonly kind: 'bootstrap'; readonly sentence: string }
  /** `master` names this node from its own bootstrap, but the folder holds no data yet (the agent stopped in between): initdb and start. */
  | { readonly kind: 'initdb'; readonly sentence: string }
  /** `retry`: nothing decided yet (nothing recorded, key unreadable, folder unusable): the next round asks again. */
  | { readonly kind: 'leave'; readonly retry: boolean; readonly sentence: string };

export interface BootSnapshot {
  readonly node: string;
  readonly master: MasterKeyView;
  /** Whether a live postmaster owns the data folder. */
  readonly running: boolean;
  /** Server names of the configuration (the recorded master must be one of them). */
  readonly servers: readonly string[];
  /** What the data folder holds (target-node.ts inspectFolder); null when it could not be inspected. */
  readonly folder: TargetFolder | null;
  /** `initdb` when this node is `agent.bootstrap_node`. */
  readonly bootstrap: BootstrapMode;
  /** `agent.reclone`. */
  readonly reclone: boolean;
  /**
   * A copy an earlier agent process did not finish (copy-marker.ts): `redo` when it can be copied
   * again, else why not. Absent or null: no such copy.
   */
  readonly partialCopy?: { readonly redo: boolean; readonly sentence: string } | null;
}

/** The `written_by` of a `master` key an agent wrote when it bootstrapped its node. */
export function bootstrapWriter(node: string): string {
  return `agent:${node} bootstrap`;
}

/** Whether `record` is this node's own bootstrap claim (written by it, the node never seen running). */
export function isOwnBootstrap(record: MasterRecord, node: string): boolean {
  return record.name === node && record.written_by === bootstrapWriter(node) && record.timeline === null;
}

function isNewFolder(folder: TargetFolder | null): boolean {
  return folder === 'missing' || folder === 'empty' || folder === 'config_only';
}

export function decideBoot(s: BootSnapshot): BootPlan {
  if (s.running) return { kind: 'leave', retry: false, sentence: 'PostgreSQL already runs: adopted as it is (the rounds demote it if it must not be writable)' };
  if (s.partialCopy) return partialCopyPlan(s, s.partialCopy);
  if (s.folder === null || s.folder === 'other') {
    return { kind: 'leave', retry: true, sentence: `the data folder ${s.folder === null ? 'cannot be inspected' : 'holds something other than PostgreSQL data'}: left alone, PostgreSQL not started` };
  }
  switch (s.master.state) {
    case 'absent':
      if (isNewFolder(s.folder) && s.bootstrap === 'initdb') {
        return { kind: 'bootstrap', sentence: 'no master recorded, no data here, and this is agent.bootstrap_node: taking the master key to create the cluster' };
      }
      return {
        kind: 'leave',
        retry: true,
        sentence: isNewFolder(s.folder)
          ? 'no master recorded and no data here (not agent.bootstrap_node): waiting for a master to clone from'
          : 'no master recorded: PostgreSQL not started (it could come up writable beside another master)',
      };
    case 'unreadable':
      return { kind: 'leave', retry: true, sentence: `the master key is unreadable (${s.master.reason}): PostgreSQL not started` };
    case 'present':
      break;
  }
  const record = s.master.record;
  const recorded = record.name;
  if (recorded === s.node) {
    if (s.folder === 'pgdata') return { kind: 'start_master', sentence: 'this node is the recorded master: starting PostgreSQL' };
    if (isOwnBootstrap(record, s.node)) return { kind: 'initdb', sentence: 'this node took the master key to bootstrap but has no data yet: running initdb' };
    // Never initdb here: an empty new cluster would replace the recorded master's data.
    return { kind: 'leave', retry: true, sentence: 'this node is the recorded master but its data folder holds no data: PostgreSQL not started (restore the data, or record another master)' };
  }
  if (!s.servers.includes(recorded)) {
    return { kind: 'leave', retry: true, sentence: `the recorded master ${JSON.stringify(recorded)} is not under servers: PostgreSQL not started` };
  }
  if (s.folder !== 'pgdata') return { kind: 'clone', master: recorded, sentence: `${recorded} is the recorded master and this node has no data: cloning it` };
  return {
    kind: 'start_standby',
    master: recorded,
    reclone: s.reclone,
    sentence: `${recorded} is the recorded master: starting as its standby (pg_rewind first when the timelines forked${s.reclone ? ', reclone when that fails' : ''})`,
  };
}

/**
 * A data folder holding a partial copy (its agent was killed mid-copy) is never started nor
 * initdb'd over nor rewound: it is copied again from the recorded master, or left for a later round
 * (nothing recorded yet, this node recorded, or the marker says it cannot be redone safely).
 */
function partialCopyPlan(s: BootSnapshot, partial: { readonly redo: boolean; readonly sentence: string }): BootPlan {
  const leave = (why: string): BootPlan => ({ kind: 'leave', retry: true, sentence: `${partial.sentence}${why}` });
  if (!partial.redo) return leave('');
  if (s.master.state === 'absent') return leave(' — but no master is recorded to copy from: PostgreSQL not started, waiting for one');
  if (s.master.state === 'unreadable') return leave(` — but the master key is unreadable (${s.master.reason}): PostgreSQL not started`);
  const recorded = s.master.record.name;
  if (recorded === s.node) return leave(' — but the master key names this node: PostgreSQL not started on a partial copy (restore the data, or record another master)');
  if (!s.servers.includes(recorded)) return leave(` — but the recorded master ${JSON.stringify(recorded)} is not under servers: PostgreSQL not started`);
  return { kind: 'clone', master: recorded, sentence: `${partial.sentence} from ${recorded}` };
}

/**
 * Whether a failed pg_rewind's output says it cannot join this node to the master's timeline
 * because the WAL it needs is gone (or the timelines share no ancestor): only then may a reclone
 * help. Not for a timeout, a lost connection, a server not shut down cleanly, missing
 * wal_log_hints/checksums, and never for "different systems" (another cluster: its data must not
 * be replaced by a copy of this one).
 */
export function rewindCannotJoin(output: string): boolean {
  if (/different systems|timed out/i.test(output)) return false;
  return /could not find previous WAL record|could not open file "[^"]*pg_wal\/[0-9A-F]{24}"|could not find common ancestor/i.test(output);
}

/**
 * How long the agent waits before trying a failed boot again (`failures` ≥ 1 in a row): 2 s,
 * doubling, at most 60 s, never below one round. A master that is unreachable or a rewind that
 * fails is not helped by trying every second, and each attempt CHECKPOINTs the master.
 */
export function bootRetryDelayMs(failures: number, loopMs: number): number {
  const exponent = Math.min(Math.max(failures, 1) - 1, 10);
  return Math.max(loopMs, Math.min(60_000, 2000 * 2 ** exponent));
}
