/**
 * The page's picture of the cluster, kept current by the daemon's Server-Sent Events (`/events`):
 * a snapshot first, then state, history, log, check and failover events as they happen. The
 * browser's EventSource reconnects by itself and sends Last-Event-ID, so the daemon replays only
 * what was missed. No polling.
 */
import type { Access, FailoverRecord, LogEntry, Point, Series, ServerMap, StatusReport } from './types';

export interface LiveState {
  connected: boolean;
  access: Access | null;
  status: StatusReport | null;
  servers: ServerMap;
  history: FailoverRecord[];
  /** Oldest first, bounded. */
  log: LogEntry[];
  series: Series;
  /** Bumped at every change, so views can memoize on it. */
  version: number;
}

const LOG_KEPT = 2000;

type Listener = (state: LiveState) => void;

export class LiveStore {
  state: LiveState = { connected: false, access: null, status: null, servers: {}, history: [], log: [], series: { lag: {}, checks: {} }, version: 0 };
  private readonly listeners = new Set<Listener>();
  private source: EventSource | null = null;
  /** Changes arriving in one burst are drawn once, at the next animation frame. */
  private frame: number | null = null;

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Open the stream. `onRefused`: the stream was refused for good (the browser stops retrying
   * after a non-200 answer, e.g. the session ended): the page checks the session.
   */
  connect(onRefused: () => void): void {
    if (this.source !== null) return;
    const source = new EventSource('/events');
    this.source = source;
    source.onopen = () => this.update({ connected: true });
    source.onerror = () => {
      this.update({ connected: false });
      if (source.readyState === EventSource.CLOSED) {
        this.source = null;
        onRefused();
      }
    };
    source.addEventListener('snapshot', (e) => {
      const data = JSON.parse((e as MessageEvent<string>).data) as { status: StatusReport; servers: ServerMap; history: FailoverRecord[]; log: LogEntry[]; series: Series; access: Access };
      this.update({ connected: true, access: data.access, status: data.status, servers: data.servers, history: data.history, log: [...data.log].reverse(), series: data.series });
    });
    source.addEventListener('state', (e) => {
      const data = JSON.parse((e as MessageEvent<string>).data) as { status: StatusReport; servers: ServerMap; lag: Record<string, Point> };
      const lag = { ...this.state.series.lag };
      for (const [server, point] of Object.entries(data.lag)) lag[server] = [...(lag[server] ?? []), point];
      this.update({ status: data.status, servers: data.servers, series: { ...this.state.series, lag } });
    });
    source.addEventListener('history', (e) => this.update({ history: JSON.parse((e as MessageEvent<string>).data) as FailoverRecord[] }));
    source.addEventListener('log', (e) => {
      const entry = JSON.parse((e as MessageEvent<string>).data) as LogEntry;
      const log = [...this.state.log, entry];
      this.update({ log: log.length > LOG_KEPT ? log.slice(-LOG_KEPT) : log });
    });
    source.addEventListener('check', (e) => {
      const data = JSON.parse((e as MessageEvent<string>).data) as { server: string; point: Point };
      const checks = { ...this.state.series.checks };
      checks[data.server] = [...(checks[data.server] ?? []), data.point].slice(-3600);
      this.update({ series: { ...this.state.series, checks } });
    });
  }

  disconnect(): void {
    this.source?.close();
    this.source = null;
    this.update({ connected: false, access: null });
  }

  private update(change: Partial<LiveState>): void {
    this.state = { ...this.state, ...change, version: this.state.version + 1 };
    if (this.frame !== null) return;
    const flush = (): void => {
      this.frame = null;
      for (const listener of this.listeners) listener(this.state);
    };
    // Hidden tabs get no animation frames: draw at once there, so a test or a returning user sees current data.
    this.frame = document.hidden ? (setTimeout(flush, 0) as unknown as number) : requestAnimationFrame(flush);
  }
}
