/** The plugins that ship with HandyRep. */
import type { Plugin } from './types.js';
import { pollConnect } from './poll/poll_connect.js';
import { pollIsready } from './poll/poll_isready.js';
import { replicationStatusLag } from './replication/replication_status_lag.js';
import { restartPgCtl } from './restart/restart_pg_ctl.js';
import { restartSystemd } from './restart/restart_systemd.js';
import { promoteSql } from './promote/promote_sql.js';
import { promotePgCtl } from './promote/promote_pg_ctl.js';
import { selectReplicaFurthestAhead } from './select/select_replica_furthest_ahead.js';
import { selectReplicaPriority } from './select/select_replica_priority.js';
import { localCommand } from './command/local_command.js';
import { simplePasswordAuth } from './auth/simple_password_auth.js';
import { zeroAuth } from './auth/zero_auth.js';
import { cloneBasebackup } from './clone/clone_basebackup.js';
import { cloneRsync } from './clone/clone_rsync.js';
import { archiveLocalDir } from './archive/archive_local_dir.js';
import { archiveDeleteFind } from './archive/archive_delete_find.js';
import { multiPgbouncer } from './connection/multi_pgbouncer.js';
import { pushAlertCommand } from './alert/push_alert_command.js';
import { pushAlertWebhook } from './alert/push_alert_webhook.js';
import { pushAlertEmail } from './alert/push_alert_email.js';

export const builtinPlugins: readonly Plugin[] = [pollConnect,
  pollIsready,
  replicationStatusLag,
  restartPgCtl,
  restartSystemd,
  promoteSql,
  promotePgCtl,
  selectReplicaFurthestAhead,
  selectReplicaPriority,
  localCommand,
  zeroAuth,
  simplePasswordAuth,
  cloneBasebackup,
  cloneRsync,
  archiveLocalDir,
  archiveDeleteFind,
  multiPgbouncer,
  pushAlertCommand,
  pushAlertWebhook,
  pushAlertEmail,
];
