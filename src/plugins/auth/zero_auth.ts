/**
 * zero_auth: everyone may call everything. Meant for a controller whose API only a trusted host
 * can reach (listen on 127.0.0.1); the daemon warns loudly at start when it is in use. Unlike the
 * original, no dummy Basic credentials are needed.
 */
import type { AuthPlugin } from '../types.js';

/** The plugin object registered as a built-in (the default authentication_method). */
export const zeroAuth: AuthPlugin = {
  name: 'zero_auth',
  kind: 'auth',
  description: 'No authentication: every caller may call every function.',
  async authenticate(_ctx, request) {
    return { ok: true, user: request.username ?? 'anonymous' };
  },
};
