/**
 * What the demo prints while it watches: one line per change of a server's role or status and of
 * the cluster status, from successive get_status snapshots (pure: two snapshots in, lines out).
 */

export interface WatchedServer {
  role: string;
  enabled: boolean;
  status: string;
  status_message: string;
}

export interface WatchSnapshot {
  cluster: { status: string; status_message: string };
  servers: Record<string, WatchedServer>;
}

export function statusChanges(before: WatchSnapshot | null, after: WatchSnapshot): string[] {
  const lines: string[] = [];
  for (const [name, now] of Object.entries(after.servers)) {
    const was = before?.servers[name];
    const role = `${now.role}${now.enabled ? '' : ' (disabled)'}`;
    const wasRole = was ? `${was.role}${was.enabled ? '' : ' (disabled)'}` : null;
    if (wasRole !== null && wasRole !== role) lines.push(`${name}: ${wasRole} → ${role}`);
    if (!was || was.status !== now.status) {
      lines.push(`${name} (${role}): ${was ? `${was.status} → ` : ''}${now.status}${now.status_message ? `: ${now.status_message}` : ''}`);
    }
  }
  for (const name of Object.keys(before?.servers ?? {})) if (!Object.hasOwn(after.servers, name)) lines.push(`${name}: removed`);
  if (!before || before.cluster.status !== after.cluster.status) {
    lines.push(`cluster: ${before ? `${before.cluster.status} → ` : ''}${after.cluster.status}${after.cluster.status_message ? `: ${after.cluster.status_message}` : ''}`);
  }
  return lines;
}

/** `HH:MM:SS` of local time, for the demo's lines. */
export function clock(date = new Date()): string {
  return date.toTimeString().slice(0, 8);
}
