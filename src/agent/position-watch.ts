/**
 * The age facts of a member record (member-record.ts PositionFacts), kept across rounds by the
 * agent: when its WAL receiver was last seen streaming, when its own probe last saw the recorded
 * master answer, and the furthest position that master published, per master record. Both times
 * come from this agent's clock, so their difference means something on any host. Pure apart from
 * its memory: the round passes the time in.
 */
import type { MasterKeyView } from './decide.js';
import { furthestLsn, masterSeenKey } from './election/position-rules.js';
import type { SqlFacts } from './local-postgres.js';
import type { MasterSeen } from './master-view.js';
import type { PositionFacts } from './member-record.js';

export class PositionWatch {
  #streamingAt: string | null = null;
  #key: string | null = null;
  #masterSeenAt: string | null = null;
  #masterLsn: string | null = null;
  #masterTimeline: number | null = null;
  #last: PositionFacts | null = null;

  /** What the last note() published (null: none yet): the boot's member record keeps it (boot-step-keeper.ts). */
  get last(): PositionFacts | null {
    return this.#last;
  }

  /** This round's facts in; what to publish out. */
  note(facts: SqlFacts | null, master: MasterKeyView, seen: MasterSeen, nowIso: string): PositionFacts {
    if (facts?.wal_receiver === 'streaming') this.#streamingAt = nowIso;
    // Another master record: what was seen of the previous one says nothing of this one. A key
    // absent or unreadable for a round (an etcd hiccup as the master's host goes) forgets nothing.
    const key = master.state === 'present' ? masterSeenKey(master.record) : this.#key;
    if (key !== this.#key) {
      this.#key = key;
      this.#masterSeenAt = null;
      this.#masterLsn = null;
      this.#masterTimeline = null;
    }
    if (master.state === 'present') {
      const name = master.record.name;
      if (seen.probe?.master === name && seen.probe.answer.sees === true) this.#masterSeenAt = seen.probe.at;
      const r = seen.record;
      if (r !== null && r.name === name && r.role === 'master' && r.postgres === 'running') {
        this.#masterLsn = furthestLsn(this.#masterLsn, r.wal_position);
        if (typeof r.timeline === 'number') this.#masterTimeline = Math.max(this.#masterTimeline ?? 0, r.timeline);
      }
    }
    this.#last = { receiver_streaming_at: this.#streamingAt, master_seen_at: this.#masterSeenAt, master_lsn_seen: this.#masterLsn, master_lsn_seen_for: this.#masterLsn === null && this.#masterTimeline === null ? null : this.#key, master_timeline_seen: this.#masterTimeline };
    return this.#last;
  }
}
