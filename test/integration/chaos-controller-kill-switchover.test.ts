/**
 * Chaos: the controller is SIGKILLed in the middle of a planned switchover john → paul, once at
 * each step (design.md §5.5). HandyRep runs in a child process; the test watches the journal and
 * kills it while the step is running, then opens HandyRep again, whose start-up recovers the
 * interrupted change. End state: exactly one writable node and it is the book's master, a
 * 'recovery' history entry, no journal; no acknowledged row lost.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { thaw } from '../fixtures/faults.js';
import { signal } from '../fixtures/proc.js';
import { cleanupAll, closeBed, instanceProcess, openBed, promotionHeld, sqlOn, waitUntil } from '../fixtures/chaos.js';
import { assertRowsOn, killAndRecover, seedAckedRows } from '../fixtures/chaos-kill.js';

after(cleanupAll);

/** Line 8 of postmaster.pid: starting, stopping, ready or standby; null when there is no file. */
function readPidFileStatus(dataDir: string): string | null {
  try {
    return readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[7]?.trim() ?? '';
  } catch {
    return null;
  }
}

const cases: { step: string; expectMaster: string[]; pauseReplay?: boolean; delayMs?: number; waitJohnStopping?: boolean }[] = [
  // Nothing irreversible has happened: the old master must come back.
  { step: 'stop_master', expectMaster: ['john'] },
  // Killed once pg_ctl stop has signalled john (its postmaster.pid says "stopping"): john is
  // down or going down when the recovery looks, and must be restarted.
  { step: 'stop_master', expectMaster: ['john'], waitJohnStopping: true },
  // Replay paused on paul so that the switchover sits in wait_replay; resumed after the kill.
  { step: 'wait_replay', expectMaster: ['john'], pauseReplay: true },
  // pg_promote may or may not have been issued: either paul rolls forward or john comes back.
  { step: 'promote', expectMaster: ['paul', 'john'] },
  // 60 ms into the step pg_promote has been issued on paul (the step takes ~120 ms): the
  // promotion completes on its own while the controller is dead.
  { step: 'promote', expectMaster: ['paul', 'john'], delayMs: 60 },
  // paul is promoted: roll forward.
  { step: 'rejoin', expectMaster: ['paul'] },
];

for (const c of cases) {
  test(`controller SIGKILLed during switchover step ${c.step}${c.delayMs ? ` (${c.delayMs} ms in)` : ''}${c.waitJohnStopping ? ' (john signalled)' : ''}: consistent recovery`, { timeout: 110_000 }, async () => {
    const bed = await openBed();
    try {
      await seedAckedRows(bed);
      if (c.pauseReplay) assert.ok((await sqlOn(bed.node('paul'), 'SELECT pg_wal_replay_pause()')).ok);
      const john = bed.node('john');
      const outcome = await killAndRecover(bed, { mode: 'switchover', target: 'paul' }, c.step, {
        delayMs: c.delayMs ?? 0,
        ...(c.waitJohnStopping
          ? {
              atStep: () =>
                waitUntil(async () => {
                  const status = readPidFileStatus(john.dataDir);
                  return status === null || status === 'stopping' || `postmaster.pid status ${status}`;
                }, 'john shutting down', 10_000, 1),
            }
          : {}),
        afterKill: async () => {
          if (c.pauseReplay) assert.ok((await sqlOn(bed.node('paul'), 'SELECT pg_wal_replay_resume()')).ok);
        },
      });
      assert.ok(c.expectMaster.includes(outcome.master), `master after recovery: ${outcome.master}, expected one of ${c.expectMaster.join(', ')}`);
      assert.equal(outcome.atKill.kind, 'switchover');
      await assertRowsOn(bed, outcome.master, 'acked', 1000);
      console.log(`# killed at ${c.step}${c.delayMs ? `+${c.delayMs}ms` : ''}${c.waitJohnStopping ? ' (john signalled)' : ''} (running: ${outcome.atKill.steps.filter((s) => s.outcome === 'running').map((s) => s.name).join(', ') || 'none'}): recovered to ${outcome.master} in ${outcome.recoveryMs} ms (${outcome.recovery.outcome}: ${outcome.recovery.details})`);
    } finally {
      await sqlOn(bed.node('paul'), 'SELECT pg_wal_replay_resume()').catch(() => undefined);
      await closeBed(bed);
    }
  });
}

/**
 * The promotion outlives the controller: paul's startup process is stopped (SIGSTOP) as soon as the
 * promote step runs, so pg_promote is issued (the `promote` signal file is written) but the
 * promotion cannot finish before HandyRep is opened again. After the recovery the startup
 * process continues and completes the promotion. Whatever the recovery chose, there must never be
 * two writable servers.
 */
test('controller SIGKILLed during a switchover promotion that completes only after the recovery: never two masters', { timeout: 110_000 }, async () => {
  const bed = await openBed();
  const paul = bed.node('paul');
  let startup: number | null = null;
  try {
    await seedAckedRows(bed);
    const outcome = await killAndRecover(bed, { mode: 'switchover', target: 'paul' }, 'promote', {
      atStep: async () => {
        startup = instanceProcess(paul, /startup/);
        if (startup === null) {
          // The promotion finished before the step was seen (a loaded machine): the kill lands after it,
          // which the consistency checks below still judge; the slow-promotion case is not exercised.
          console.log('# paul: promotion already complete when the promote step was seen (race lost): killed after it instead');
          return;
        }
        signal(startup, 'SIGSTOP');
        await promotionHeld(paul);
      },
      afterRecovery: async () => {
        if (startup !== null) signal(startup, 'SIGCONT');
        startup = null;
        // Give a pending promotion time to complete before the end state is checked.
        await new Promise((r) => setTimeout(r, 2000));
      },
    });
    await assertRowsOn(bed, outcome.master, 'acked', 1000);
    console.log(`# killed during a slow promotion: recovered to ${outcome.master} in ${outcome.recoveryMs} ms (${outcome.recovery.outcome}: ${outcome.recovery.details})`);
  } finally {
    if (startup !== null) signal(startup, 'SIGCONT');
    thaw(paul);
    await closeBed(bed);
  }
});
