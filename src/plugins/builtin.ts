/** The plugins that ship with HandyRep. */
import type { Plugin } from './types.js';
import { pollConnect } from './poll/poll_connect.js';
import { pollIsready } from './poll/poll_isready.js';
import { replicationStatusLag } from './replication/replication_status_lag.js';
import { restartPgCtl } from './restart/restart_pg_ctl.js';
import { restartSystemd } from './restart/restart_systemd.js';

export const builtinPlugins: readonly Plugin[] = [pollConnect, pollIsready, replicationStatusLag, restartPgCtl, restartSystemd];
