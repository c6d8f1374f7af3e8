/** Human output of the CLI: the status table, RDs, log and history lines, colours. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatHistory, formatLog, formatRd, formatResult, formatStatus, shortTime, type Style } from '../../src/cli/format.js';
import { wantsColor } from '../../src/cli/io.js';
import { startProgress } from '../../src/cli/progress.js';
import { captureIo } from '../../src/cli/io.js';

const plain: Style = { color: false, columns: null };
const ESC = '\x1b[';

const status = {
  cluster: { status: 'warning', status_no: 3, status_ts: '2025-11-22T04:30:01.123Z', status_message: '1 replica(s) down or unavailable: george' },
  servers: {
    paul: { hostname: '127.0.0.12', role: 'replica', enabled: true, status: 'healthy', status_no: 1, status_ts: '', status_message: 'replica is streaming within its lag limit' },
    george: { hostname: '127.0.0.13', role: 'replica', enabled: true, status: 'down', status_no: 5, status_ts: '', status_message: 'PostgreSQL is not running' },
    ringo: { hostname: '127.0.0.14', role: 'replica', enabled: false, status: 'unknown', status_no: 0, status_ts: '', status_message: 'not checked yet' },
    john: { hostname: '127.0.0.11', role: 'master', enabled: true, status: 'healthy', status_no: 1, status_ts: '', status_message: 'master passed verification' },
  },
};
const info = {
  john: { timeline: 2, lag_mb: null, fenced: false },
  paul: { timeline: 2, lag_mb: 0.25, fenced: false },
  george: { timeline: 1, lag_mb: null, fenced: true },
};

test('status: master first, then replicas by name, disabled last; lag in MB for replicas, timeline, aligned columns; the cluster line', () => {
  const text = formatStatus(status, info, plain);
  assert.equal(
    text,
    [
      'NAME    ROLE                STATUS   LAG (MB)  TIMELINE  MESSAGE',
      'john    master              healthy         -         2  master passed verification',
      'george  replica (fenced)    down            -         1  PostgreSQL is not running',
      'paul    replica             healthy       0.3         2  replica is streaming within its lag limit',
      'ringo   replica (disabled)  unknown         -         -  not checked yet',
      'cluster: warning — 1 replica(s) down or unavailable: george (2025-11-22 04:30:01Z)',
    ].join('\n'),
  );
  assert.ok(!text.includes(ESC), 'no escape codes without colour');
  const narrow = formatStatus(status, info, { color: false, columns: 80 });
  for (const line of narrow.split('\n').slice(0, 5)) assert.ok([...line].length <= 80, line);
  assert.match(narrow, /replica is streaming w…$/m, 'messages are cut to the terminal width');
  assert.match(formatStatus(status, null, plain), /^john +master +healthy +- +- +master passed/m, 'without get_server_info: no lag or timeline');
});

test('colours: status names coloured (green, yellow, red), only when asked for; NO_COLOR and non-TTYs get none', () => {
  const coloured = formatStatus(status, info, { color: true, columns: null });
  assert.ok(coloured.includes(`${ESC}32mhealthy`), 'healthy is green');
  assert.ok(coloured.includes(`${ESC}31mdown`), 'down is red');
  assert.ok(coloured.includes(`${ESC}33m`), 'warning is yellow');
  assert.equal(wantsColor(true, {}), true);
  assert.equal(wantsColor(false, {}), false);
  assert.equal(wantsColor(true, { NO_COLOR: '1' }), false);
  assert.equal(wantsColor(true, { NO_COLOR: '' }), true, 'an empty NO_COLOR does not count (no-color.org)');
  assert.equal(wantsColor(true, { TERM: 'dumb' }), false);
});

test('RDs: SUCCESS/FAIL and details, then the other fields indented and nested', () => {
  assert.equal(formatRd({ result: 'SUCCESS', details: 'switched over from john to paul' }, plain), 'SUCCESS: switched over from john to paul');
  assert.equal(
    formatRd({ result: 'FAIL', details: 'master running', reason_code: 'master_running', plan: { kind: 'switchover', steps: ['stop_master', 'promote paul'] }, refusals: [] }, plain),
    ['FAIL: master running', '  reason_code: master_running', '  plan:', '    kind: switchover', '    steps: stop_master, promote paul', '  refusals: (none)'].join('\n'),
  );
  assert.match(formatRd({ result: 'FAIL', details: 'x' }, { color: true, columns: null }), /^\x1b\[31mFAIL\x1b\[0m: x$/);
  assert.equal(formatResult('get_master_name', 'john', plain), 'john');
  assert.equal(formatResult('get_master_name', null, plain), '(no enabled master)');
  assert.equal(formatResult('get_setting', 10, plain), '10');
  assert.equal(formatResult('get_cluster_status', { status: 'healthy', status_message: 'ok' }, plain), 'cluster: healthy — ok');
});

test('log and history: aligned lines, oldest first (the API gives newest first)', () => {
  const log = formatLog(
    [
      { ts: '2025-11-22T04:30:02.000Z', level: 'error', category: 'FAILOVER', message: 'master john is down', server: 'john', alert: 'CRITICAL' },
      { ts: '2025-11-22T04:30:01.000Z', level: 'info', category: 'CHECK', message: 'cluster healthy' },
    ],
    plain,
  );
  assert.equal(log, ['2025-11-22 04:30:01Z  INFO            CHECK           cluster healthy', '2025-11-22 04:30:02Z  ERROR CRITICAL  FAILOVER  john  master john is down'].join('\n'));
  assert.equal(formatLog([], plain), '(no log entries)');
  const history = formatHistory(
    [
      { started: '2025-11-22T05:00:00Z', kind: 'switchover', from: 'paul', to: 'john', outcome: 'SUCCESS', duration_ms: 510, details: 'switched over from paul to john' },
      { started: '2025-11-22T04:30:00Z', kind: 'failover', from: 'john', to: 'paul', outcome: 'FAIL', duration_ms: 12345, details: 'no candidate' },
    ],
    plain,
  );
  assert.equal(
    history,
    [
      'STARTED               KIND        FROM → TO    OUTCOME  DURATION  DETAILS',
      '2025-11-22 04:30:00Z  failover    john → paul  FAIL       12.3 s  no candidate',
      '2025-11-22 05:00:00Z  switchover  paul → john  SUCCESS     0.5 s  switched over from paul to john',
    ].join('\n'),
  );
  assert.equal(shortTime('nonsense'), 'nonsense');
});

test('progress: one "waiting" line and one per change when standard error is not a terminal; a spinner erased at the end when it is', () => {
  const io = captureIo();
  const progress = startProgress(io, 'clone');
  progress.update('copying 10%');
  progress.update('copying 10%');
  progress.update('copying 50%');
  progress.stop();
  assert.equal(io.stderr(), 'clone: waiting for the controller…\nclone: copying 10%\nclone: copying 50%\n');
  const quiet = captureIo();
  startProgress(quiet, 'clone', { quiet: true }).stop();
  assert.equal(quiet.stderr(), '');
  const tty = captureIo({ interactive: true });
  const spinner = startProgress(tty, 'manual_failover');
  spinner.stop();
  assert.match(tty.stderr(), /^\r\x1b\[2K. manual_failover: waiting for the controller… \(0s\)\r\x1b\[2K$/);
});

test('status: a paused cluster says so under the cluster line, with who, since when and why', () => {
  const paused = { ...status, cluster: { ...status.cluster, paused: true, paused_by: 'alice', paused_at: '2025-11-22T04:00:00.000Z', paused_reason: 'kernel upgrade' } };
  const lines = formatStatus(paused, info, plain).split('\n');
  assert.equal(lines.at(-1), 'failover PAUSED by alice since 2025-11-22 04:00:00Z (kernel upgrade): nothing fails over automatically until resume');
  assert.ok(!formatStatus({ ...status, cluster: { ...status.cluster, paused: false } }, info, plain).includes('PAUSED'));
});
