/**
 * The state lock across real processes: never two holders, never a stale lock after a crash, a
 * leftover pid in the information file means nothing, and release() frees only its own lock.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { StateLock } from '../../src/store/state-lock.js';
import { HandyRepError } from '../../src/model/errors.js';
import { isAlive } from '../fixtures/proc.js';
import { track, untrack } from '../fixtures/processes.js';

const dir = mkdtempSync(join(tmpdir(), 'handyrep-lock-'));
const HOLDER = new URL('../fixtures/lock-holder.ts', import.meta.url).pathname;

after(() => rmSync(dir, { recursive: true, force: true }));

interface Holder {
  child: ChildProcessWithoutNullStreams;
  /** The next line the holder prints. */
  next(): Promise<string>;
}

/** Starts a lock-holder process for serverFile and waits until it is ready for "go". */
async function startHolder(serverFile: string): Promise<Holder> {
  const child = spawn(process.execPath, ['--import', 'tsx', HOLDER, serverFile], { stdio: 'pipe' });
  track(child.pid as number, 'lock holder');
  const waiting: ((line: string) => void)[] = [];
  const queued: string[] = [];
  createInterface({ input: child.stdout }).on('line', (line) => {
    const take = waiting.shift();
    if (take) take(line);
    else queued.push(line);
  });
  const holder: Holder = {
    child,
    next: () =>
      new Promise((resolve, reject) => {
        const line = queued.shift();
        if (line !== undefined) return resolve(line);
        const timer = setTimeout(() => reject(new Error(`lock holder ${child.pid} said nothing in 30 s`)), 30_000);
        waiting.push((l) => {
          clearTimeout(timer);
          resolve(l);
        });
      }),
  };
  assert.equal(await holder.next(), 'ready');
  return holder;
}

async function stopHolder(holder: Holder): Promise<void> {
  const pid = holder.child.pid as number;
  // Reaped, not merely a zombie leader: the kernel frees the fds when the last thread has exited.
  const exited = holder.child.exitCode !== null || holder.child.signalCode !== null
    ? Promise.resolve()
    : new Promise<void>((resolve) => holder.child.once('exit', () => resolve()));
  holder.child.kill('SIGKILL');
  await exited;
  untrack(pid);
}

/** Can this process take the lock right now? (released again at once) */
async function lockIsFree(serverFile: string): Promise<boolean> {
  try {
    const lock = await StateLock.acquire(serverFile);
    await lock.release();
    return true;
  } catch (err) {
    if (err instanceof HandyRepError && err.code === 'LOCKED') return false;
    throw err;
  }
}

/** The pid of a process that has exited (a crashed holder's leftover). */
function deadPid(): number {
  const gone = spawnSync('true');
  return gone.pid;
}

test('12 simultaneous starts after a crash (stale lock file) in separate processes: exactly one holds the lock', async () => {
  const serverFile = join(dir, 'race.save');
  writeFileSync(`${serverFile}.lock`, `${deadPid()}\n`);
  const holders: Holder[] = [];
  try {
    for (let i = 0; i < 12; i++) holders.push(await startHolder(serverFile));
    const at = Date.now() + 500;
    for (const h of holders) h.child.stdin.write(`go ${at}\n`);
    const answers = await Promise.all(holders.map((h) => h.next()));
    const held = answers.filter((a) => a === 'held');
    assert.equal(held.length, 1, `answers: ${answers.join(' / ')}`);
    const holderPid = holders[answers.indexOf('held')]?.child.pid;
    for (const refused of answers.filter((a) => a !== 'held')) {
      assert.match(refused, new RegExp(`^locked another HandyRep \\(pid ${holderPid}\\) is using `), 'the refusal names the holder');
    }
    assert.equal(readFileSync(`${serverFile}.lock`, 'utf8').trim(), String(holderPid), 'the information file names the holder');
  } finally {
    for (const h of holders) await stopHolder(h);
  }
});

test('a SIGKILLed holder: the next start takes the lock at once', async () => {
  const serverFile = join(dir, 'crash.save');
  const holder = await startHolder(serverFile);
  holder.child.stdin.write('go\n');
  assert.equal(await holder.next(), 'held');
  assert.equal(await lockIsFree(serverFile), false, 'held while the holder lives');
  await stopHolder(holder);
  assert.ok(!isAlive(holder.child.pid as number));
  // The information file still names the dead holder: it does not matter.
  assert.equal(readFileSync(`${serverFile}.lock`, 'utf8').trim(), String(holder.child.pid));
  const lock = await StateLock.acquire(serverFile);
  await lock.release();
});

test('a long-lived process the holder started does not keep the lock after the holder dies', async () => {
  const serverFile = join(dir, 'child.save');
  const holder = await startHolder(serverFile);
  holder.child.stdin.write('go\n');
  assert.equal(await holder.next(), 'held');
  holder.child.stdin.write('spawn\n');
  const childPid = Number(/^child (\d+)$/.exec(await holder.next())?.[1]);
  track(childPid, 'sleep started by the lock holder');
  try {
    await stopHolder(holder);
    assert.ok(isAlive(childPid), 'the child outlives the holder');
    const lock = await StateLock.acquire(serverFile);
    await lock.release();
  } finally {
    process.kill(childPid, 'SIGKILL');
    untrack(childPid);
  }
});

test('a leftover lock file naming a live foreign pid (pid 1) does not block a start', async () => {
  const serverFile = join(dir, 'leftover.save');
  writeFileSync(`${serverFile}.lock`, '1\n');
  const lock = await StateLock.acquire(serverFile);
  try {
    assert.equal(readFileSync(`${serverFile}.lock`, 'utf8').trim(), String(process.pid));
  } finally {
    await lock.release();
  }
});

test('release() of a lock this object no longer holds does not free another process\'s lock', async () => {
  const serverFile = join(dir, 'release.save');
  const mine = await StateLock.acquire(serverFile);
  await mine.release();
  const other = await startHolder(serverFile);
  try {
    other.child.stdin.write('go\n');
    assert.equal(await other.next(), 'held');
    await mine.release();
    assert.equal(await lockIsFree(serverFile), false, 'still held by the other process');
    assert.equal(readFileSync(`${serverFile}.lock`, 'utf8').trim(), String(other.child.pid), 'its information file is left alone');
    other.child.stdin.write('release\n');
    assert.equal(await other.next(), 'released');
    assert.equal(await lockIsFree(serverFile), true, 'free once its holder releases it');
  } finally {
    await stopHolder(other);
  }
});

test('a second lock in the same process is refused; the lock needs an existing folder', async () => {
  const serverFile = join(dir, 'same.save');
  const lock = await StateLock.acquire(serverFile);
  try {
    await assert.rejects(StateLock.acquire(serverFile), (err: unknown) => err instanceof HandyRepError && err.code === 'LOCKED');
    // The same file through a symlinked folder is the same lock.
    const alias = join(dir, 'alias');
    symlinkSync(dir, alias);
    await assert.rejects(StateLock.acquire(join(alias, 'same.save')), (err: unknown) => err instanceof HandyRepError && err.code === 'LOCKED');
  } finally {
    await lock.release();
  }
  await assert.rejects(StateLock.acquire(join(dir, 'missing', 'x.save')), (err: unknown) => err instanceof HandyRepError && err.code === 'STATE_FILE');
});
