/**
 * NodeShell over SSH. One ssh2 connection per shell, opened on first use and shared by every
 * command (sequential or concurrent: each command is its own channel); when the connection errors
 * or closes it is dropped and the next command reconnects.
 */
import { performance } from 'node:perf_hooks';
import type { Client, ClientChannel } from 'ssh2';
import { describeError, HandyRepError } from '../model/errors.js';
import type { CommandOptions, CommandResult, NodeShell } from './ports.js';
import { DEFAULT_MAX_OUTPUT_BYTES, TailBuffer } from './output-buffer.js';
import { Semaphore } from './semaphore.js';
import { quoteCommand } from './shell-quote.js';
import { openSshConnection, sshDescription, type SshTarget } from './ssh-connect.js';
import { SshConnectError } from './ssh-errors.js';
import { signalChannel } from './ssh-signal.js';

/** Options of an SshShell. */
export interface SshShellOptions extends SshTarget {
  /** Channels open at once on the connection; more commands queue. Default 8 (sshd's MaxSessions is 10). */
  maxChannels?: number;
  /** Output kept per stream (the tail); default 1 MB. */
  maxOutputBytes?: number;
  /** Wait for the channel to close after the exit status arrived; default 200 ms (see run-process.ts). */
  exitGraceMs?: number;
}

/** A command's outcome, plus when its channel is really gone (the slot is held until then). */
interface ChannelOutcome {
  result: CommandResult;
  closed: Promise<void>;
}

/** Runs commands on a remote node through one pooled SSH connection. */
export class SshShell implements NodeShell {
  /** e.g. `ssh postgres@127.0.0.11:22`. */
  readonly description: string;
  private readonly target: SshTarget;
  private readonly slots: Semaphore;
  private readonly maxOutputBytes: number;
  private readonly exitGraceMs: number;
  /** The shared connection: pending while connecting, with `client` once established. */
  private connection: { pending: Promise<Client>; client?: Client } | undefined;
  /** Connections that have run at least one command: a failure on those is worth one retry. */
  private readonly proven = new WeakSet<Client>();
  private opened = 0;

  constructor(options: SshShellOptions) {
    this.target = {
      host: options.host,
      port: options.port,
      user: options.user,
      privateKeyPath: options.privateKeyPath,
      connectTimeoutMs: options.connectTimeoutMs,
      hostKeyChecking: options.hostKeyChecking,
      knownHostsPath: options.knownHostsPath,
    };
    this.description = sshDescription(options);
    this.slots = new Semaphore(options.maxChannels ?? 8);
    this.maxOutputBytes = options.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES;
    this.exitGraceMs = options.exitGraceMs ?? 200;
  }

  /** How many SSH connections this shell has opened so far (for tests and metrics). */
  get connectionsOpened(): number {
    return this.opened;
  }

  /**
   * Runs `argv` remotely (quoted with `quoteCommand`). Rejects with INVALID_PARAMETER for
   * `options.env` (the remote environment is not ours to set; pass secrets on stdin), and with
   * CONTROL_CHANNEL (an `SshConnectError`) when the command could not be started.
   */
  async run(argv: readonly string[], options: CommandOptions): Promise<CommandResult> {
    if (options.env !== undefined && Object.keys(options.env).length > 0) {
      throw new HandyRepError(
        'INVALID_PARAMETER',
        `${this.description}: environment variables cannot be passed to remote commands; send secrets on stdin`,
      );
    }
    const command = quoteCommand(argv);
    const release = await this.slots.acquire();
    let outcome: ChannelOutcome;
    try {
      outcome = await this.start(command, options);
    } catch (err) {
      release();
      throw err;
    }
    void outcome.closed.finally(release);
    return outcome.result;
  }

  /** Ends the pooled connection, if any. The next `run` reconnects. */
  async close(): Promise<void> {
    const current = this.connection;
    this.connection = undefined;
    if (!current) return;
    try {
      (await current.pending).end();
    } catch {
      // Never connected: nothing to close.
    }
  }

  /** Opens a channel (retrying once on a fresh connection if a proven one failed) and runs it. */
  private async start(command: string, options: CommandOptions): Promise<ChannelOutcome> {
    let client = await this.connect();
    let channel: ClientChannel;
    try {
      channel = await this.openChannel(client, command);
    } catch (err) {
      const retry = this.proven.has(client) && !(err instanceof SshConnectError && err.kind === 'timeout');
      this.drop(client);
      if (!retry) throw this.channelError(err);
      client = await this.connect();
      try {
        channel = await this.openChannel(client, command);
      } catch (againErr) {
        this.drop(client);
        throw this.channelError(againErr);
      }
    }
    this.proven.add(client);
    return this.collect(client, channel, options);
  }

  /** The shared connection, opened when there is none. */
  private connect(): Promise<Client> {
    if (this.connection) return this.connection.pending;
    const entry: { pending: Promise<Client>; client?: Client } = {
      pending: openSshConnection(this.target).then((client) => {
        this.opened += 1;
        entry.client = client;
        const forget = (): void => this.forget(entry);
        client.on('close', forget);
        client.on('end', forget);
        client.on('error', forget);
        return client;
      }),
    };
    entry.pending.catch(() => this.forget(entry));
    this.connection = entry;
    return entry.pending;
  }

  private forget(entry: { pending: Promise<Client> }): void {
    if (this.connection === entry) this.connection = undefined;
  }

  /** Forgets and destroys a connection (hung, or failed to open a channel). */
  private drop(client: Client): void {
    if (this.connection?.client === client) this.connection = undefined;
    client.destroy();
  }

  /** Sends the exec request; a connection that does not answer within the connect timeout is hung. */
  private openChannel(client: Client, command: string): Promise<ClientChannel> {
    return new Promise<ClientChannel>((resolve, reject) => {
      let done = false;
      const timer = setTimeout(() => {
        done = true;
        reject(
          new SshConnectError(
            'timeout',
            `${this.description}: no answer to the exec request within ${this.target.connectTimeoutMs} ms (connection dropped)`,
          ),
        );
      }, this.target.connectTimeoutMs);
      try {
        client.exec(command, (err, channel) => {
          clearTimeout(timer);
          if (done) {
            if (!err) channel.close();
            return;
          }
          done = true;
          if (err) reject(err);
          else {
            // ssh2 may emit a fast command's output, exit status and close in the same parse
            // loop that runs this callback, before the awaiting code attaches its listeners.
            recordEarlyEvents(channel);
            resolve(channel);
          }
        });
      } catch (err) {
        // ssh2 throws synchronously when the connection is already gone.
        clearTimeout(timer);
        done = true;
        reject(err);
      }
    });
  }

  private channelError(err: unknown): HandyRepError {
    if (err instanceof HandyRepError) return err;
    return new SshConnectError('other', `${this.description}: cannot start the command: ${describeError(err)}`, {
      cause: err,
    });
  }

  /** Feeds stdin, captures output, enforces the timeout. */
  private collect(client: Client, channel: ClientChannel, options: CommandOptions): Promise<ChannelOutcome> {
    const startedAt = performance.now();
    const stdout = new TailBuffer(this.maxOutputBytes);
    const stderr = new TailBuffer(this.maxOutputBytes);
    const early = takeEarlyEvents(channel);
    for (const chunk of early.stdout) stdout.push(chunk);
    for (const chunk of early.stderr) stderr.push(chunk);
    let markClosed: () => void = () => undefined;
    const closed = new Promise<void>((resolve) => {
      markClosed = resolve;
    });
    let channelClosed = early.closed;
    if (early.closed) markClosed();
    channel.once('close', () => {
      channelClosed = true;
      markClosed();
    });

    return new Promise<ChannelOutcome>((resolve) => {
      let settled = false;
      let exitCode: number | null = null;
      let sawExit = false;
      let graceTimer: NodeJS.Timeout | undefined;
      let timer: NodeJS.Timeout | undefined;
      const finish = (timedOut: boolean): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        clearTimeout(graceTimer);
        resolve({
          result: {
            exitCode: timedOut ? null : exitCode,
            stdout: stdout.text(),
            stderr: stderr.text(),
            timedOut,
            durationMs: Math.round(performance.now() - startedAt),
          },
          closed,
        });
      };

      // After the exit status, a background child may hold the output open: stop waiting once the
      // output has been idle for the grace period (output still flowing is the command's own tail).
      const armGrace = (): void => {
        clearTimeout(graceTimer);
        graceTimer = setTimeout(() => {
          channel.close();
          finish(false);
        }, this.exitGraceMs);
      };
      channel.on('data', (chunk: Buffer) => {
        stdout.push(chunk);
        if (sawExit) armGrace();
      });
      channel.stderr.on('data', (chunk: Buffer) => {
        stderr.push(chunk);
        if (sawExit) armGrace();
      });
      channel.on('error', () => undefined);
      channel.on('exit', (code: number | null) => {
        sawExit = true;
        exitCode = typeof code === 'number' ? code : null;
        armGrace();
      });
      const onClose = (): void => {
        // Closed without an exit status: the connection died under the command.
        if (!sawExit && !settled) stderr.push('\n[connection lost before the command finished]\n');
        finish(false);
      };
      channel.once('close', onClose);
      if (early.exitSeen) {
        sawExit = true;
        exitCode = early.exitCode;
      }
      if (early.closed) {
        onClose();
        return;
      }
      if (early.exitSeen) armGrace();
      // Always send EOF: a command reading stdin must not wait for input that never comes.
      channel.end(options.stdin);

      timer = setTimeout(() => {
        // sshd delivers a signal request with killpg(), so the command's whole group dies.
        signalChannel(channel, 'KILL');
        channel.close();
        finish(true);
        // No close confirmation within the connect timeout: the connection itself is hung.
        setTimeout(() => {
          if (!channelClosed) {
            this.drop(client);
            markClosed();
          }
        }, this.target.connectTimeoutMs).unref();
      }, options.timeoutMs);
    });
  }
}


interface EarlyEvents {
  stdout: Buffer[];
  stderr: Buffer[];
  exitSeen: boolean;
  exitCode: number | null;
  closed: boolean;
  detach: () => void;
}

const earlyEvents = new WeakMap<ClientChannel, EarlyEvents>();

/** Record what a channel emits until `takeEarlyEvents` hands it over. */
function recordEarlyEvents(channel: ClientChannel): void {
  const record: EarlyEvents = { stdout: [], stderr: [], exitSeen: false, exitCode: null, closed: false, detach: () => undefined };
  const onData = (chunk: Buffer): void => void record.stdout.push(chunk);
  const onStderr = (chunk: Buffer): void => void record.stderr.push(chunk);
  const onExit = (code: number | null): void => {
    record.exitSeen = true;
    record.exitCode = typeof code === 'number' ? code : null;
  };
  const onClose = (): void => {
    record.closed = true;
  };
  channel.on('data', onData);
  channel.stderr.on('data', onStderr);
  channel.on('exit', onExit);
  channel.once('close', onClose);
  record.detach = () => {
    channel.off('data', onData);
    channel.stderr.off('data', onStderr);
    channel.off('exit', onExit);
    channel.off('close', onClose);
  };
  earlyEvents.set(channel, record);
}

/** Stop recording and return what was recorded (empty when nothing was). */
function takeEarlyEvents(channel: ClientChannel): EarlyEvents {
  const record = earlyEvents.get(channel);
  earlyEvents.delete(channel);
  record?.detach();
  return record ?? { stdout: [], stderr: [], exitSeen: false, exitCode: null, closed: false, detach: () => undefined };
}
