/**
 * Turns what HandyRep reports (state revisions, log entries, checks, finished failovers) into the
 * dashboard's live events, and fans them out to every connected SSE client. State is read through
 * the same operations the REST API serves (get_status, get_server_info, failover_history), at most
 * once per COALESCE_MS however often the revision moves, so 100 browsers cost one read.
 */
import type { StatusReport } from '../../api/handyrep.js';
import type { LogEntry } from '../../log/event-log.js';
import type { FailoverRecord } from '../../model/failover-record.js';
import type { ServerMap } from '../../model/server.js';
import type { DaemonBackend } from '../backend.js';
import { EventRing, sseFrame, type HubEvent } from './event-ring.js';
import { DashboardSeries } from './series.js';

/** A connected client: write returns false when its buffer is full (it is then dropped). */
export interface HubClient {
  write(frame: string): boolean;
  close(): void;
}

/** Everything a client needs to draw the page from scratch. */
export interface DashboardSnapshot {
  status: StatusReport;
  servers: ServerMap;
  history: FailoverRecord[];
  log: LogEntry[];
  series: ReturnType<DashboardSeries['snapshot']>;
}

const COALESCE_MS = 100;
/** Unwatched, state is read for the lag series only, at most this often. */
const LAG_READ_MS = 10_000;
/**
 * After the last client leaves, events are still kept this long, so a browser that reconnects
 * (a network blip, a reload) resumes from Last-Event-ID. Later, nothing is serialized or kept
 * until a client comes: a returning client starts from a snapshot, and an unwatched daemon idles.
 */
export const REPLAY_GRACE_MS = 60_000;
const RING_EVENTS = 2000;
const HISTORY_SHOWN = 50;
const LOG_SHOWN = 500;
/** A client whose unsent output exceeds this is too slow: disconnected, it reconnects and catches up. */
export const CLIENT_BACKLOG_BYTES = 4 * 1024 * 1024;

export class DashboardHub {
  readonly ring = new EventRing(RING_EVENTS);
  readonly series = new DashboardSeries();
  private readonly clients = new Set<HubClient>();
  private pending: NodeJS.Timeout | null = null;
  private reading = false;
  private again = false;
  private lastHistoryId: string | null | undefined = undefined;
  private closed = false;
  private lastLagReadMs = 0;
  /** Clients reading their snapshot, not subscribed yet: they need the events meanwhile. */
  private joining = 0;
  /** When the last client left (never: no replay to keep). */
  private lastLeftMs = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly backend: DaemonBackend,
    private readonly now: () => number = Date.now,
  ) {
    backend.onStateChange(() => this.schedule());
    backend.onLogEntry((entry) => this.publish('log', entry));
    backend.onCheck((event) => {
      const point = this.series.recordCheck(event.server, event.durationMs);
      this.publish('check', { server: event.server, kind: event.kind, ok: event.ok, point });
    });
    backend.onFailover((event) => this.publish('failover', event));
  }

  get clientCount(): number {
    return this.clients.size;
  }

  /** The page's full picture, read through the operations. */
  async snapshot(): Promise<DashboardSnapshot> {
    const [status, servers, history, log] = await Promise.all([
      this.backend.invoke('get_status', {}) as Promise<StatusReport>,
      this.backend.invoke('get_server_info', {}) as Promise<ServerMap>,
      this.backend.invoke('failover_history', { numentries: HISTORY_SHOWN }) as Promise<FailoverRecord[]>,
      this.backend.invoke('read_log', { numlines: LOG_SHOWN }) as Promise<LogEntry[]>,
    ]);
    return { status, servers, history, log, series: this.series.snapshot() };
  }

  /**
   * A client is about to read its snapshot and subscribe: events are kept meanwhile. Call the
   * returned function once it subscribed (or gave up).
   */
  keepEventsWhileJoining(): () => void {
    this.joining += 1;
    let released = false;
    return () => {
      if (!released) this.joining -= 1;
      released = true;
    };
  }

  /** Add a client; it gets every event from now on. */
  subscribe(client: HubClient): () => void {
    this.clients.add(client);
    return () => this.drop(client);
  }

  /** Whether events are kept: a client is connected or joining, or one left within the grace period. */
  private get watched(): boolean {
    return this.clients.size > 0 || this.joining > 0 || this.now() - this.lastLeftMs < REPLAY_GRACE_MS;
  }

  private drop(client: HubClient): void {
    if (this.clients.delete(client) && this.clients.size === 0) this.lastLeftMs = this.now();
  }

  close(): void {
    this.closed = true;
    if (this.pending) clearTimeout(this.pending);
    for (const client of this.clients) client.close();
    this.clients.clear();
  }

  private publish(type: string, data: unknown): HubEvent | null {
    if (this.closed) return null;
    if (!this.watched) {
      this.ring.requireSnapshot();
      return null;
    }
    const event = this.ring.push(type, data);
    const frame = sseFrame(event);
    for (const client of this.clients) {
      if (!client.write(frame)) {
        this.drop(client);
        client.close();
      }
    }
    return event;
  }

  /**
   * Nobody watches: no state event (a returning client gets a snapshot instead), only the lag
   * series for the charts, read at most as often as it is sampled. Keeps an unwatched daemon idle.
   */
  private async sampleLagOnly(): Promise<void> {
    this.ring.requireSnapshot();
    this.lastHistoryId = undefined;
    if (Date.now() - this.lastLagReadMs < LAG_READ_MS) return;
    this.lastLagReadMs = Date.now();
    const servers = (await this.backend.invoke('get_server_info', {})) as ServerMap;
    this.series.recordLag(Object.entries(servers).map(([server, r]) => ({ server, lagMb: r.lag_mb, lagSeconds: r.lag_seconds })));
  }

  private schedule(): void {
    if (this.closed) return;
    if (this.reading) {
      this.again = true;
      return;
    }
    this.pending ??= setTimeout(() => void this.readState(), COALESCE_MS);
  }

  /** Read state once and publish it (and the history when a change was added). */
  private async readState(): Promise<void> {
    this.pending = null;
    this.reading = true;
    try {
      if (!this.watched) {
        await this.sampleLagOnly();
        return;
      }
      const [status, servers] = await Promise.all([
        this.backend.invoke('get_status', {}) as Promise<StatusReport>,
        this.backend.invoke('get_server_info', {}) as Promise<ServerMap>,
      ]);
      const lag = this.series.recordLag(Object.entries(servers).map(([server, r]) => ({ server, lagMb: r.lag_mb, lagSeconds: r.lag_seconds })));
      this.lastLagReadMs = Date.now();
      this.publish('state', { status, servers, lag });
      const history = (await this.backend.invoke('failover_history', { numentries: HISTORY_SHOWN })) as FailoverRecord[];
      const newest = history[0] ? `${history[0].id}/${history[0].outcome}/${history[0].steps.length}` : null;
      if (newest !== this.lastHistoryId) {
        this.publish('history', history);
        this.lastHistoryId = newest;
      }
    } catch (err) {
      this.backend.log.warn('DAEMON', `dashboard: reading state failed: ${(err as Error).message}`);
    } finally {
      this.reading = false;
      if (this.again) {
        this.again = false;
        this.schedule();
      }
    }
  }
}
