/**
 * The client's view of a failover: a probe writes a numbered row every 20 ms to whichever node
 * accepts writes (a libpq-style host list with target_session_attrs=read-write: try each host,
 * keep the first that is not in recovery) and records which numbers were acknowledged when.
 */
import pg from 'pg';

export interface ProbeTarget {
  host: string;
  port: number;
}

export interface ProbeResult {
  acked: { n: number; at: number }[];
  attempts: number;
}

const INTERVAL_MS = 20;

export class WriteProbe {
  private client: pg.Client | null = null;
  private stopped = false;
  private readonly acked: { n: number; at: number }[] = [];
  private attempts = 0;
  private loop: Promise<void> | null = null;

  constructor(
    private readonly targets: readonly ProbeTarget[],
    private readonly table: string,
    private readonly maxRows = 20000,
  ) {}

  /** Connect to the first writable host of the list, or null. */
  private async connectWritable(): Promise<pg.Client | null> {
    for (const target of this.targets) {
      const client = new pg.Client({ host: target.host, port: target.port, user: 'postgres', database: 'postgres', connectionTimeoutMillis: 500, statement_timeout: 2000, query_timeout: 2500 });
      client.on('error', () => undefined);
      try {
        await client.connect();
        const rows = await client.query<{ ro: boolean }>('SELECT pg_is_in_recovery() AS ro');
        if (rows.rows[0]?.ro === false) return client;
      } catch {
        // next host
      }
      await client.end().catch(() => undefined);
    }
    return null;
  }

  start(): void {
    this.loop = this.run();
  }

  private async run(): Promise<void> {
    let n = 0;
    let next = Date.now();
    while (!this.stopped && n < this.maxRows) {
      n += 1;
      this.attempts += 1;
      try {
        this.client ??= await this.connectWritable();
        if (this.client) {
          await this.client.query(`INSERT INTO ${this.table} (n) VALUES ($1)`, [n]);
          this.acked.push({ n, at: Date.now() });
        }
      } catch {
        const broken = this.client;
        this.client = null;
        await broken?.end().catch(() => undefined);
      }
      next += INTERVAL_MS;
      const wait = next - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      else next = Date.now();
    }
  }

  async stop(): Promise<ProbeResult> {
    this.stopped = true;
    await this.loop;
    await this.client?.end().catch(() => undefined);
    this.client = null;
    return { acked: [...this.acked], attempts: this.attempts };
  }
}

/** The longest gap between consecutive acknowledgements after `faultAt` (the unavailability window). */
export function writeWindowMs(result: ProbeResult, faultAt: number): number {
  const before = result.acked.filter((a) => a.at <= faultAt).at(-1);
  const after = result.acked.find((a) => a.at > faultAt);
  if (!before || !after) return Number.NaN;
  let worst = after.at - before.at;
  const later = result.acked.filter((a) => a.at > faultAt);
  for (let i = 1; i < later.length; i += 1) worst = Math.max(worst, (later[i]?.at ?? 0) - (later[i - 1]?.at ?? 0));
  return worst;
}
