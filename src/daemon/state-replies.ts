/**
 * Answers derived from server and cluster state, kept while the state revision stays the same:
 * load balancers ask /primary and monitoring asks get_status many times a second, and the state
 * changes about once a poll. An answer is kept only when the revision did not move while it was
 * computed, so a kept answer always belongs to one revision.
 */

/** How one kind of answer is kept. */
export interface KeepOptions<T> {
  /** Keep only answers this accepts (e.g. not those for unknown server names: keys stay bounded). */
  keepIf?: (value: T) => boolean;
  /** The JSON sent for the answer (default: the whole value). */
  serialise?: (value: T) => string;
}

interface Kept {
  revision: number;
  value: unknown;
  json: string | null;
}

/** Kept answers by key: a function name, or a health check and a configured server name. */
export class StateReplies {
  private readonly kept = new Map<string, Kept>();

  constructor(private readonly revision: () => number) {}

  /** The answer under `key` for the current revision, computing it when there is none. */
  async value<T>(key: string, compute: () => Promise<T>): Promise<T> {
    return (await this.entry(key, compute, {})).value as T;
  }

  /** The same answer and its JSON, serialised once per revision. */
  async withJson<T>(key: string, compute: () => Promise<T>, options: KeepOptions<T> = {}): Promise<{ value: T; json: string }> {
    const entry = await this.entry(key, compute, options);
    const value = entry.value as T;
    entry.json ??= options.serialise ? options.serialise(value) : JSON.stringify(value ?? null);
    return { value, json: entry.json };
  }

  private async entry<T>(key: string, compute: () => Promise<T>, options: KeepOptions<T>): Promise<Kept> {
    const revision = this.revision();
    const known = this.kept.get(key);
    if (known && known.revision === revision) return known;
    const value = await compute();
    const fresh: Kept = { revision, value, json: null };
    if (this.revision() === revision && (options.keepIf?.(value) ?? true)) this.kept.set(key, fresh);
    return fresh;
  }
}
