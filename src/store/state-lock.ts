/**
 * One HandyRep per state file: `<server_file>.lock` holds the owner's pid. A lock whose pid is no
 * longer alive is stale and taken over; a live owner makes the second process refuse to start.
 */
import { open, readFile, unlink } from 'node:fs/promises';
import { HandyRepError } from '../model/errors.js';

/** Locks this process holds: a second HandyRep in the same process must be refused as well. */
const heldHere = new Set<string>();

export class StateLock {
  private held = false;
  private constructor(readonly path: string) {}

  static async acquire(serverFile: string): Promise<StateLock> {
    const lock = new StateLock(`${serverFile}.lock`);
    if (heldHere.has(lock.path)) {
      throw new HandyRepError('LOCKED', `another HandyRep in this process is using ${serverFile}`);
    }
    for (let attempt = 0; attempt < 2; attempt += 1) {
      try {
        const handle = await open(lock.path, 'wx', 0o600);
        await handle.writeFile(`${process.pid}\n`);
        await handle.close();
        lock.held = true;
        heldHere.add(lock.path);
        return lock;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
          throw new HandyRepError('STATE_FILE', `cannot create lock ${lock.path}: ${(err as Error).message}`);
        }
        const owner = Number.parseInt((await readFile(lock.path, 'utf8').catch(() => '')).trim(), 10);
        if (Number.isInteger(owner) && owner !== process.pid && isAlive(owner)) {
          throw new HandyRepError('LOCKED', `another HandyRep (pid ${owner}) is using ${serverFile}; lock file ${lock.path}`);
        }
        await unlink(lock.path).catch(() => undefined);
      }
    }
    throw new HandyRepError('LOCKED', `cannot take the lock ${lock.path}`);
  }

  async release(): Promise<void> {
    if (!this.held) return;
    this.held = false;
    heldHere.delete(this.path);
    await unlink(this.path).catch(() => undefined);
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
