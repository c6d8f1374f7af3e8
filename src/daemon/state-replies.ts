/**
 * Answers derived from server and cluster state, kept while the state revision stays the same:
 * load balancers ask /primary and monitoring asks get_status many times a second, and the state
 * changes about once a poll. An answer is kept only when the revision did not move while it was
 * computed, so a kept answer always belongs to one revision.
 */

interface Kept {
  revision: number;
  value: unknown;
  json: string | null;
}

/** Kept answers by operation name (a handful of names, so no eviction is needed). */
export class StateReplies {
  private readonly kept = new Map<string, Kept>();

  constructor(private readonly revision: () => number) {}

  /** The answer of `name` for the current revision, computing it when there is none. */
  async value(name: string, compute: () => Promise<unknown>): Promise<unknown> {
    return (await this.entry(name, compute)).value;
  }

  /** The same answer and its JSON, serialised once per revision. */
  async withJson(name: string, compute: () => Promise<unknown>): Promise<{ value: unknown; json: string }> {
    const entry = await this.entry(name, compute);
    entry.json ??= JSON.stringify(entry.value ?? null);
    return { value: entry.value, json: entry.json };
  }

  private async entry(name: string, compute: () => Promise<unknown>): Promise<Kept> {
    const revision = this.revision();
    const known = this.kept.get(name);
    if (known && known.revision === revision) return known;
    const fresh: Kept = { revision, value: await compute(), json: null };
    if (this.revision() === revision) this.kept.set(name, fresh);
    return fresh;
  }
}
