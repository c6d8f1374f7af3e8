/**
 * The HPACK dynamic table (RFC 7541 §2.3.2, §4): newest entry first, sized as name + value + 32
 * octets per entry, oldest entries evicted to stay within the current maximum. A ring of slots
 * so that adding and evicting cost no array shifting.
 */
export class DynamicTable {
  #names: string[] = new Array<string>(16);
  #values: string[] = new Array<string>(16);
  #head = 0; // slot the next entry goes into
  #count = 0;
  #size = 0;
  #maxSize: number;

  constructor(maxSize: number) {
    this.#maxSize = maxSize;
  }

  get size(): number {
    return this.#size;
  }

  get maxSize(): number {
    return this.#maxSize;
  }

  get length(): number {
    return this.#count;
  }

  /** Name of entry `i` (0 = newest); the caller has checked `i < length`. */
  name(i: number): string {
    return this.#names[this.#slot(i)]!;
  }

  value(i: number): string {
    return this.#values[this.#slot(i)]!;
  }

  /** A new maximum (a dynamic table size update): evicts down to it. */
  resize(maxSize: number): void {
    this.#maxSize = maxSize;
    this.#evictTo(maxSize);
  }

  /** Adds an entry, evicting first; an entry larger than the maximum empties the table (§4.4). */
  add(name: string, value: string): void {
    const entrySize = name.length + value.length + 32;
    if (entrySize > this.#maxSize) {
      this.#evictTo(0);
      return;
    }
    this.#evictTo(this.#maxSize - entrySize);
    if (this.#count === this.#names.length) this.#grow();
    this.#names[this.#head] = name;
    this.#values[this.#head] = value;
    this.#head = (this.#head + 1) % this.#names.length;
    this.#count++;
    this.#size += entrySize;
  }

  #slot(i: number): number {
    const capacity = this.#names.length;
    return (this.#head - 1 - i + capacity) % capacity;
  }

  #evictTo(limit: number): void {
    while (this.#size > limit) {
      const oldest = this.#slot(this.#count - 1);
      this.#size -= this.#names[oldest]!.length + this.#values[oldest]!.length + 32;
      this.#names[oldest] = '';
      this.#values[oldest] = '';
      this.#count--;
    }
  }

  /** Doubles the ring, oldest entry first in the new slots. */
  #grow(): void {
    const names: string[] = [];
    const values: string[] = [];
    for (let i = this.#count - 1; i >= 0; i--) {
      names.push(this.name(i));
      values.push(this.value(i));
    }
    const capacity = 2 * this.#names.length;
    names.length = capacity;
    values.length = capacity;
    this.#names = names;
    this.#values = values;
    this.#head = this.#count;
  }
}
