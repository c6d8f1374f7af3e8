/**
 * Delivers alerts (log entries marked WARNING or CRITICAL) through `handyrep.push_alert_method`,
 * one at a time, off the caller's path: a status change or a failover step never waits for a
 * mail server. The queue is bounded; when it overflows the oldest alerts go, and the next
 * delivered one says how many were lost. A failed delivery is logged, never alerted (no loop).
 */
import type { EventLog, LogEntry } from '../../log/event-log.js';
import { describeError } from '../../model/errors.js';
import type { PluginRegistry } from '../../plugins/registry.js';
import type { Alert, PluginContext } from '../../plugins/types.js';

/** Alerts waiting beyond this many are dropped, oldest first. */
const MAX_QUEUED = 100;

export interface AlertDispatcherDeps {
  plugins: PluginRegistry;
  ctx: () => PluginContext;
  log: EventLog;
}

export class AlertDispatcher {
  private readonly queue: Alert[] = [];
  private draining: Promise<void> | null = null;
  private dropped = 0;
  private closed = false;
  /** Alerts delivered, failed and dropped since start. */
  readonly counts = { delivered: 0, failed: 0, dropped: 0 };

  constructor(private readonly deps: AlertDispatcherDeps) {
    deps.log.onAlert((entry) => this.enqueue(entry));
  }

  private enqueue(entry: LogEntry): void {
    const config = this.deps.ctx().config;
    if (this.closed || config.handyrep.push_alert_method === null || entry.alert === undefined) return;
    if (this.queue.length >= MAX_QUEUED) {
      this.queue.shift();
      this.dropped += 1;
      this.counts.dropped += 1;
    }
    this.queue.push({
      type: entry.alert,
      category: entry.category,
      message: entry.message,
      server: entry.server ?? null,
      cluster: config.handyrep.cluster_name,
      ts: entry.ts,
    });
    this.draining ??= this.drain().finally(() => {
      this.draining = null;
    });
  }

  private async drain(): Promise<void> {
    for (let alert = this.queue.shift(); alert !== undefined; alert = this.queue.shift()) {
      if (this.dropped > 0) {
        alert = { ...alert, message: `${alert.message} (${this.dropped} earlier alerts were dropped: too many at once)` };
        this.dropped = 0;
      }
      await this.deliver(alert);
    }
  }

  private async deliver(alert: Alert): Promise<void> {
    const ctx = this.deps.ctx();
    const method = ctx.config.handyrep.push_alert_method;
    if (method === null) return;
    let failure: string | null;
    try {
      const outcome = await this.deps.plugins.get('alert', method).push(ctx, alert);
      failure = outcome.ok ? null : outcome.details;
    } catch (err) {
      failure = describeError(err);
    }
    if (failure === null) {
      this.counts.delivered += 1;
      this.deps.log.debug('ALERT', `${alert.type} ${alert.category} alert delivered by ${method}`, alert.server ?? undefined);
    } else {
      this.counts.failed += 1;
      this.deps.log.warn('ALERT', `${alert.type} ${alert.category} alert not delivered by ${method}: ${failure}`, alert.server ?? undefined);
    }
  }

  /** Stops taking alerts; waits up to `waitMs` for the queued ones to go out. */
  async close(waitMs: number): Promise<void> {
    this.closed = true;
    if (this.draining === null) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.draining, new Promise<void>((resolve) => (timer = setTimeout(resolve, waitMs)))]);
    clearTimeout(timer);
  }
}
