/**
 * The live events the dashboard streams (SSE), each with an id, kept in a bounded ring so a
 * browser that reconnects with Last-Event-ID gets exactly what it missed. Ids are
 * `<boot>.<sequence>`: an id from an earlier daemon process (another boot) is never mistaken for
 * one of this process; the client then starts from a fresh snapshot.
 */
import { randomBytes } from 'node:crypto';

export interface HubEvent {
  readonly id: string;
  /** SSE event name: state, history, log, check, failover. */
  readonly type: string;
  /** JSON text of the data, serialized once for every client. */
  readonly json: string;
}

/** What a reconnecting client is sent: the events after its id, or a snapshot when they are gone. */
export type Replay = { kind: 'events'; events: HubEvent[] } | { kind: 'snapshot' };

export class EventRing {
  private readonly boot = randomBytes(4).toString('hex');
  private sequence = 0;
  private readonly ring: HubEvent[] = [];
  /** Ids up to this sequence cannot be resumed from (a change was not recorded as an event). */
  private resumableAfter = 0;

  private bytes = 0;

  /** At most `capacity` events and `maxBytes` of JSON (state events of a large cluster are big). */
  constructor(
    private readonly capacity: number,
    private readonly maxBytes = 16 * 1024 * 1024,
  ) {}

  /** Add an event; returns it with its id. */
  push(type: string, data: unknown): HubEvent {
    this.sequence += 1;
    const event: HubEvent = { id: `${this.boot}.${this.sequence}`, type, json: JSON.stringify(data) };
    this.ring.push(event);
    this.bytes += event.json.length;
    let drop = 0;
    while (this.ring.length - drop > 1 && (this.ring.length - drop > this.capacity || this.bytes > this.maxBytes)) {
      this.bytes -= (this.ring[drop] as HubEvent).json.length;
      drop++;
    }
    if (drop > 0) this.ring.splice(0, drop);
    return event;
  }

  /**
   * Something changed that no event records (state not read while nobody watched): a client
   * that comes back with an id from before now must start from a snapshot.
   */
  requireSnapshot(): void {
    this.resumableAfter = this.sequence;
  }

  /** The id of the newest event, or null before the first. */
  get lastId(): string | null {
    return this.ring.at(-1)?.id ?? null;
  }

  /** The events after `lastEventId` when the ring still holds all of them. */
  since(lastEventId: string | undefined): Replay {
    if (lastEventId === undefined) return { kind: 'snapshot' };
    const seq = this.sequenceOf(lastEventId);
    if (seq === null || seq <= this.resumableAfter) return { kind: 'snapshot' };
    return this.after(seq);
  }

  /**
   * The events after `lastEventId` for a client that has just read a snapshot taken after that
   * event: a change no event recorded before the snapshot is in the snapshot itself.
   */
  sinceSnapshot(lastEventId: string | null): Replay {
    if (lastEventId === null) return { kind: 'events', events: this.ring.slice() };
    const seq = this.sequenceOf(lastEventId);
    return seq === null ? { kind: 'snapshot' } : this.after(seq);
  }

  /** The sequence number of an id of this process, or null. */
  private sequenceOf(id: string): number | null {
    const [boot, seqText] = id.split('.');
    const seq = Number(seqText);
    return boot === this.boot && Number.isInteger(seq) && seq >= 0 && seq <= this.sequence ? seq : null;
  }

  private after(seq: number): Replay {
    if (seq === this.sequence) return { kind: 'events', events: [] };
    const first = this.ring[0];
    if (first === undefined) return { kind: 'snapshot' };
    const firstSeq = Number(first.id.split('.')[1]);
    // The client's next event was dropped from the ring: it cannot catch up event by event.
    if (seq + 1 < firstSeq) return { kind: 'snapshot' };
    return { kind: 'events', events: this.ring.slice(seq + 1 - firstSeq) };
  }
}

/** One SSE frame. Data is JSON (no raw newlines), so one data line suffices. */
export function sseFrame(event: HubEvent): string {
  return `id: ${event.id}\nevent: ${event.type}\ndata: ${event.json}\n\n`;
}
