/**
 * An auth plugin that lets an anonymous caller run admin functions (zero_auth) gives anybody who
 * reaches the port every action. It is allowed only when the daemon listens on loopback and the
 * configuration says so (daemon.allow_unauthenticated): checked at start and before a reload
 * (reload_conf, SIGHUP) applies a configuration, so a reload cannot open the API either.
 */
import { OPERATIONS } from '../api/operations.js';
import type { AuthBinding } from './auth-gate.js';

export interface OpenAuthVerdict {
  /** The plugin lets an anonymous caller run admin functions. */
  open: boolean;
  plugin: string;
  /** Why this may not run; null when it may. */
  problem: string | null;
}

export function isLoopback(address: string): boolean {
  return address.startsWith('127.') || address === '::1' || address === '::ffff:127.0.0.1' || address === 'localhost';
}

export async function judgeOpenAuth(binding: AuthBinding, listen: { host: string; allowed: boolean }): Promise<OpenAuthVerdict> {
  const { plugin, ctx } = binding;
  const admin = OPERATIONS.find((op) => op.web && op.access === 'admin');
  if (!admin) return { open: false, plugin: plugin.name, problem: null };
  const probe = await plugin.authenticate(ctx, { username: null, password: null, functionName: admin.name, access: 'admin', remoteAddress: '(configuration check)' });
  if (!probe.ok) return { open: false, plugin: plugin.name, problem: null };
  if (listen.allowed && isLoopback(listen.host)) return { open: true, plugin: plugin.name, problem: null };
  const why = [
    listen.allowed ? '' : 'daemon.allow_unauthenticated is not true',
    isLoopback(listen.host) ? '' : `daemon.listen_address ${listen.host} is not a loopback address`,
  ].filter(Boolean).join(' and ');
  return {
    open: true,
    plugin: plugin.name,
    problem:
      `handyrep.authentication_method ${plugin.name} lets anybody run every function, and ${why}. ` +
      'Use simple_password_auth (passwords.admin_password, passwords.read_password), or set daemon.listen_address to a loopback address (127.0.0.1 or ::1) and daemon.allow_unauthenticated: true.',
  };
}
