/**
 * Runs tasks one at a time in arrival order: mutating actions never interleave (design.md §5.5,
 * "at most one topology change at a time"). A failing task does not block the ones after it.
 */
export class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(task: () => Promise<T>): Promise<T> {
    const result = this.tail.then(task, task);
    this.tail = result.catch(() => undefined);
    return result;
  }

  /** Resolves when every task queued so far has finished. */
  async idle(): Promise<void> {
    await this.tail;
  }
}
