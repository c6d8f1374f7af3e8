/**
 * Deep freezing for loaded configuration: the config is shared by every component, so none may
 * change it behind the others' backs (a reload replaces it whole).
 */

/** Freezes `value` and everything reachable from it (cycles included); returns the same value. */
export function deepFreeze<T>(value: T): T {
  freezeAll(value, new WeakSet());
  return value;
}

function freezeAll(value: unknown, seen: WeakSet<object>): void {
  if (typeof value !== 'object' || value === null || seen.has(value)) return;
  seen.add(value);
  // Children first: an already frozen object may still hold unfrozen children, so always descend.
  for (const child of Object.values(value)) freezeAll(child, seen);
  Object.freeze(value);
}
