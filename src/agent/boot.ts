/**
 * Role discovery when the agent starts (design §9 rule 3), as a pure function: PostgreSQL that is
 * not running is started in the role the `master` key gives it, and never writable unless this
 * node is the recorded master. PostgreSQL already running is left to the rounds (decide.ts
 * demotes a writable one that must not be). Asked again every round until it decided something
 * (a start tried, or PostgreSQL found running); after that the agent never starts PostgreSQL on
 * its own again, so an operator's stop stays a stop.
 */
import type { MasterKeyView } from './decide.js';

export type BootPlan =
  | { readonly kind: 'start_master'; readonly sentence: string }
  /** pg_rewind onto `master` (it says itself when no rewind is needed), standby.signal, primary_conninfo, start. */
  | { readonly kind: 'start_standby'; readonly master: string; readonly sentence: string }
  /** `retry`: nothing decided yet (nothing recorded, key unreadable): the next round asks again. */
  | { readonly kind: 'leave'; readonly retry: boolean; readonly sentence: string };

export interface BootSnapshot {
  readonly node: string;
  readonly master: MasterKeyView;
  /** Whether a live postmaster owns the data folder. */
  readonly running: boolean;
  /** Server names of the configuration (the recorded master must be one of them). */
  readonly servers: readonly string[];
}

export function decideBoot(s: BootSnapshot): BootPlan {
  if (s.running) return { kind: 'leave', retry: false, sentence: 'PostgreSQL already runs: adopted as it is (the rounds demote it if it must not be writable)' };
  switch (s.master.state) {
    case 'absent':
      return { kind: 'leave', retry: true, sentence: 'no master recorded: PostgreSQL not started (it could come up writable beside another master)' };
    case 'unreadable':
      return { kind: 'leave', retry: true, sentence: `the master key is unreadable (${s.master.reason}): PostgreSQL not started` };
    case 'present':
      break;
  }
  const recorded = s.master.record.name;
  if (recorded === s.node) return { kind: 'start_master', sentence: 'this node is the recorded master: starting PostgreSQL' };
  if (!s.servers.includes(recorded)) {
    return { kind: 'leave', retry: true, sentence: `the recorded master ${JSON.stringify(recorded)} is not under servers: PostgreSQL not started` };
  }
  return { kind: 'start_standby', master: recorded, sentence: `${recorded} is the recorded master: starting as its standby (pg_rewind first when the timelines forked)` };
}
