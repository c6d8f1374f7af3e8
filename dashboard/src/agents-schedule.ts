/**
 * When the page asks get_agents again (agents.ts): every few seconds while the page is visible,
 * never while it is hidden (asked at once when it shows again), and less often while the calls
 * fail. Pure, without imports: the unit tests run it in Node.
 */

export const AGENTS_EVERY_MS = 3000;
/** The longest wait while calls keep failing. */
export const AGENTS_FAILING_MAX_MS = 30_000;

/**
 * The wait before the next call, or null for none until the page is shown again. A failed call
 * (etcd unreachable, the daemon away) doubles the wait, up to AGENTS_FAILING_MAX_MS: each call then
 * costs the daemon an etcd read that waits out its retry_timeout, and the badges already show the
 * last answer greyed; one answer puts it back to AGENTS_EVERY_MS.
 */
export function nextAgentsCallMs(visible: boolean, failuresInARow: number): number | null {
  if (!visible) return null;
  const doublings = Math.min(Math.max(0, Math.floor(failuresInARow)), 10);
  return Math.min(AGENTS_EVERY_MS * 2 ** doublings, AGENTS_FAILING_MAX_MS);
}
