/**
 * After a postmaster crash the agent kills what is left of that instance (every PostgreSQL
 * process works in the data folder) before its lease goes: a leftover backend may still commit.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { instanceLingers, killLeftovers } from '../../src/agent/local-postgres.js';

test('processes working in the data folder are killed; others are left alone', async () => {
  const pgdata = mkdtempSync(join(tmpdir(), 'handyrep-leftovers-'));
  const elsewhere = mkdtempSync(join(tmpdir(), 'handyrep-elsewhere-'));
  const leftover = spawn('sleep', ['30'], { cwd: pgdata, stdio: 'ignore' });
  const bystander = spawn('sleep', ['30'], { cwd: elsewhere, stdio: 'ignore' });
  try {
    const leftoverExit = new Promise<NodeJS.Signals | null>((resolve) => leftover.once('exit', (_code, signal) => resolve(signal)));
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(instanceLingers(pgdata, 2 ** 22 + 1), true, 'the leftover counts as a lingering instance');
    assert.equal(killLeftovers(pgdata), 1);
    assert.equal(await leftoverExit, 'SIGKILL');
    assert.equal(bystander.exitCode, null, 'a process elsewhere still runs');
    assert.equal(bystander.signalCode, null);
  } finally {
    leftover.kill('SIGKILL');
    bystander.kill('SIGKILL');
    rmSync(pgdata, { recursive: true, force: true });
    rmSync(elsewhere, { recursive: true, force: true });
  }
});
