/**
 * One thing at a time on a node: the agent's boot (role discovery, rewind, clone) and the
 * controller's commands (command executor) both change the data folder and the postmaster, so they
 * hold this lock while they run. The boot only tries it (a round must never wait behind a long
 * command: it renews leases); a command waits for it, in order (first come, first served).
 */
export interface LockHolder {
  /** What runs, in a sentence fragment ("command <id> (clone)", "the agent's boot"). */
  readonly label: string;
  readonly since: string;
}

export class NodeLock {
  #holder: LockHolder | null = null;
  readonly #waiters: { label: string; wake: () => void }[] = [];

  constructor(private readonly now: () => Date = () => new Date()) {}

  holder(): LockHolder | null {
    return this.#holder;
  }

  /** The release function, or null when something holds the lock (nothing waits then). */
  tryEnter(label: string): (() => void) | null {
    if (this.#holder !== null || this.#waiters.length > 0) return null;
    return this.#grant(label);
  }

  /** Waits until the lock is free and earlier waiters had their turn; resolves with the release function. */
  enter(label: string): Promise<() => void> {
    const now = this.tryEnter(label);
    if (now !== null) return Promise.resolve(now);
    return new Promise((resolve) => this.#waiters.push({ label, wake: () => resolve(this.#grant(label)) }));
  }

  #grant(label: string): () => void {
    const holder: LockHolder = { label, since: this.now().toISOString() };
    this.#holder = holder;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      if (this.#holder === holder) this.#holder = null;
      this.#waiters.shift()?.wake();
    };
  }
}
