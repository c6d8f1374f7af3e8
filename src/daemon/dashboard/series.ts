/**
 * The last hour of replication lag and check latency per server, for the dashboard's charts:
 * ring buffers in the daemon (memory bounded by age and count), fed by state changes and
 * HandyRep's check events.
 */

/** One point: [unix seconds, value…]. */
export type Point = number[];

const HOUR_MS = 3_600_000;
/** At most this many points per series (one a second for an hour). */
const MAX_POINTS = 3600;
/** Lag is sampled at most this often per server, however often the state changes. */
const LAG_EVERY_MS = 2_000;

class SeriesBook {
  private readonly series = new Map<string, Point[]>();

  add(key: string, point: Point, nowMs: number): void {
    let points = this.series.get(key);
    if (points === undefined) {
      points = [];
      this.series.set(key, points);
    }
    points.push(point);
    const oldest = (nowMs - HOUR_MS) / 1000;
    let drop = 0;
    while (drop < points.length && (points[drop]?.[0] ?? 0) < oldest) drop++;
    if (points.length - drop > MAX_POINTS) drop = points.length - MAX_POINTS;
    if (drop > 0) points.splice(0, drop);
  }

  last(key: string): Point | undefined {
    return this.series.get(key)?.at(-1);
  }

  toJSON(): Record<string, Point[]> {
    return Object.fromEntries(this.series);
  }
}

/** What one server's lag looked like at a state change. */
export interface LagSample {
  server: string;
  lagMb: number | null;
  lagSeconds: number | null;
}

export class DashboardSeries {
  private readonly lag = new SeriesBook();
  private readonly checks = new SeriesBook();

  constructor(private readonly now: () => number = Date.now) {}

  /** Record lag points; returns the points recorded (throttled per server). */
  recordLag(samples: readonly LagSample[]): Record<string, Point> {
    const nowMs = this.now();
    const recorded: Record<string, Point> = {};
    for (const s of samples) {
      if (s.lagMb === null && s.lagSeconds === null) continue;
      const last = this.lag.last(s.server);
      if (last !== undefined && nowMs - (last[0] ?? 0) * 1000 < LAG_EVERY_MS) continue;
      const point = [nowMs / 1000, s.lagMb ?? 0, s.lagSeconds ?? 0];
      this.lag.add(s.server, point, nowMs);
      recorded[s.server] = point;
    }
    return recorded;
  }

  /** Record one check's duration; returns its point. */
  recordCheck(server: string, durationMs: number): Point {
    const nowMs = this.now();
    const point = [nowMs / 1000, durationMs];
    this.checks.add(server, point, nowMs);
    return point;
  }

  /** Everything kept: `lag[server] = [[t, mb, s]…]`, `checks[server] = [[t, ms]…]`. */
  snapshot(): { lag: Record<string, Point[]>; checks: Record<string, Point[]> } {
    return { lag: this.lag.toJSON(), checks: this.checks.toJSON() };
  }
}
