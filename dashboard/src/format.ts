/** Small formatting helpers; every value ends up as text (Preact escapes it). */

export function ago(iso: string | null | undefined, now = Date.now()): string {
  if (!iso || iso.startsWith('1970-')) return 'never';
  const seconds = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (seconds < 60) return `${seconds} s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  return `${Math.floor(seconds / 3600)} h ago`;
}

export function time(iso: string | null | undefined): string {
  if (!iso) return '—';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleTimeString();
}

export function dateTime(iso: string | null | undefined): string {
  if (!iso) return '—';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}

export function duration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '—';
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

export function startToEnd(start: string, end: string | null): number | null {
  return end === null ? null : Date.parse(end) - Date.parse(start);
}

export function mb(value: number | null | undefined): string {
  return value === null || value === undefined ? '—' : `${value < 10 ? value.toFixed(2) : value.toFixed(0)} MB`;
}

export function bytes(value: number | null | undefined): string {
  if (value === null || value === undefined) return '?';
  if (value < 1024 * 1024) return `${(value / 1024).toFixed(0)} kB`;
  return `${(value / 1048576).toFixed(1)} MB`;
}

/** CSS class of a status number: s0 unknown … s5 down. */
export function statusClass(statusNo: number | undefined): string {
  return `s${statusNo ?? 0}`;
}
