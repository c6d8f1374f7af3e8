/**
 * One HandyRep per state file, enforced by a lock the kernel releases when its holder dies: a
 * listening Linux abstract unix socket named after the state file's real path. Binding it is
 * atomic (two processes can never both hold it), it vanishes with the process (a crash or a
 * reboot never leaves a stale lock), and nothing on disk decides who holds it.
 *
 * `<server_file>.lock` still names the holder's pid, for people and error messages only. The
 * holder also answers a connection to the socket with its pid, which is what a refused start
 * reports. Limit: abstract sockets live in a network namespace, so two HandyReps in different
 * namespaces (containers) sharing one state file through a volume do not see each other's lock.
 */
import { createHash } from 'node:crypto';
import { realpath, readFile, unlink, writeFile } from 'node:fs/promises';
import { connect, createServer, type Server } from 'node:net';
import { basename, dirname, join } from 'node:path';
import { HandyRepError } from '../model/errors.js';

/** How long a refused start waits for the holder to say who it is. */
const HOLDER_QUERY_MS = 1000;

/** Locks this process holds, by socket name: a second HandyRep here gets a clearer message. */
const heldHere = new Set<string>();

export class StateLock {
  private constructor(
    /** The information file (`<server_file>.lock`): the holder's pid, never the lock itself. */
    readonly path: string,
    private readonly socketName: string,
    private server: Server | null,
  ) {}

  static async acquire(serverFile: string): Promise<StateLock> {
    const socketName = await lockSocketName(serverFile);
    const infoPath = `${serverFile}.lock`;
    if (heldHere.has(socketName)) {
      throw new HandyRepError('LOCKED', `another HandyRep in this process is using ${serverFile}`);
    }
    const server = await listenExclusively(socketName).catch(async (err: unknown) => {
      if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') {
        throw new HandyRepError('STATE_FILE', `cannot take the lock of ${serverFile}: ${(err as Error).message}`, { cause: err });
      }
      throw new HandyRepError('LOCKED', `another HandyRep (${await describeHolder(socketName, infoPath)}) is using ${serverFile}`);
    });
    heldHere.add(socketName);
    // Information only: a failure to write it does not matter to the lock.
    await writeFile(infoPath, `${process.pid}\n`, { mode: 0o600 }).catch(() => undefined);
    return new StateLock(infoPath, socketName, server);
  }

  /** Frees the lock if this object holds it; a second call, or a call on a lock given up, does nothing. */
  async release(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = null;
    // Remove the information while the lock is still ours: nobody else can have rewritten it yet.
    const info = await readFile(this.path, 'utf8').catch(() => '');
    if (info.trim() === String(process.pid)) await unlink(this.path).catch(() => undefined);
    await new Promise<void>((resolve) => server.close(() => resolve()));
    heldHere.delete(this.socketName);
  }
}

/** `\0handyrep-lock-<sha256 of the state file's real path>` (the folder must exist). */
async function lockSocketName(serverFile: string): Promise<string> {
  let folder: string;
  try {
    folder = await realpath(dirname(serverFile));
  } catch (err) {
    throw new HandyRepError('STATE_FILE', `cannot lock ${serverFile}: its folder is not usable: ${(err as Error).message}`, { cause: err });
  }
  const digest = createHash('sha256').update(join(folder, basename(serverFile))).digest('hex');
  return `\0handyrep-lock-${digest}`;
}

/** Binds the abstract socket; rejects with EADDRINUSE while another process holds it. */
function listenExclusively(socketName: string): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer((socket) => {
      socket.on('error', () => undefined);
      socket.end(`${process.pid}\n`);
    });
    server.once('error', reject);
    server.listen({ path: socketName, exclusive: true }, () => {
      server.off('error', reject);
      server.on('error', () => undefined);
      // The lock must not keep the process alive; the kernel frees it when the process ends.
      server.unref();
      resolve(server);
    });
  });
}

/** "pid N" from the holder itself, else from the information file, else a plain description. */
async function describeHolder(socketName: string, infoPath: string): Promise<string> {
  const answered = await askHolder(socketName);
  if (answered !== null) return `pid ${answered}`;
  const written = Number.parseInt((await readFile(infoPath, 'utf8').catch(() => '')).trim(), 10);
  return Number.isInteger(written) ? `pid ${written} according to ${infoPath}` : 'pid unknown';
}

function askHolder(socketName: string): Promise<number | null> {
  return new Promise((resolve) => {
    let text = '';
    const socket = connect({ path: socketName });
    const finish = (): void => {
      clearTimeout(timer);
      socket.destroy();
      const pid = Number.parseInt(text.trim(), 10);
      resolve(Number.isInteger(pid) && pid > 0 ? pid : null);
    };
    const timer = setTimeout(finish, HOLDER_QUERY_MS);
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      text += chunk.slice(0, 32);
    });
    socket.on('end', finish);
    socket.on('error', finish);
  });
}
