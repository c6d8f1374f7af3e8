/**
 * `handyrep daemon`: run the REST daemon until SIGTERM or SIGINT, then stop it cleanly (stop
 * accepting, stop monitoring, persist, release the lock) and exit 0. A second signal while
 * stopping exits at once. SIGHUP reopens the log file and reloads the configuration (logrotate).
 * Start-up failures are printed as one clear message with a distinct exit code (a second daemon
 * on the same state file: EXIT.LOCKED).
 */
import { ConfigError } from '../config/config-error.js';
import { startDaemon, type RunningDaemon } from '../daemon/daemon.js';
import { describeError, HandyRepError } from '../model/errors.js';
import { EXIT, type ExitCode } from './exit-codes.js';

/** Where the command writes its messages (standard error by default). */
export interface DaemonCommandIo {
  error(line: string): void;
}

const stderrIo: DaemonCommandIo = { error: (line) => process.stderr.write(`${line}\n`) };

/** Run the daemon; resolves with the exit code once it has stopped (or failed to start). */
export async function runDaemonCommand(configFile: string, io: DaemonCommandIo = stderrIo): Promise<ExitCode> {
  let daemon: RunningDaemon;
  // A SIGHUP during start-up (logrotate while a recovery runs) must not kill the process (Node's
  // default): remember it and reload once the daemon runs.
  let hangupWhileStarting = false;
  const onEarlyHangup = (): void => {
    hangupWhileStarting = true;
  };
  process.on('SIGHUP', onEarlyHangup);
  try {
    daemon = await startDaemon(configFile, { notice: io.error });
  } catch (err) {
    const { code, message } = startFailure(err, configFile);
    io.error(message);
    return code;
  } finally {
    process.off('SIGHUP', onEarlyHangup);
  }
  // A rejected promise nobody awaited must not kill the controller: log it and keep running.
  const onRejection = (reason: unknown): void => daemon.hr.events.error('DAEMON', `unhandled rejection: ${describeError(reason)}`);
  process.on('unhandledRejection', onRejection);
  const onHangup = (): void => {
    daemon.reload().then(
      (result) => io.error(`handyrep daemon: SIGHUP: log reopened, configuration reload ${result === 'SUCCESS' ? 'done' : 'failed (see the log); the previous one stays'}`),
      (err: unknown) => io.error(`handyrep daemon: SIGHUP: reload failed: ${describeError(err)}`),
    );
  };
  process.on('SIGHUP', onHangup);
  if (hangupWhileStarting) onHangup();
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  io.error(`handyrep daemon: ${signal}: stopping (a second signal exits at once)`);
  const force = (): never => {
    io.error('handyrep daemon: second signal: exiting without a clean stop');
    process.exit(EXIT.FAILURE);
  };
  process.once('SIGTERM', force);
  process.once('SIGINT', force);
  try {
    await daemon.stop();
  } catch (err) {
    io.error(`handyrep daemon: error while stopping: ${describeError(err)}`);
    return EXIT.FAILURE;
  } finally {
    process.off('unhandledRejection', onRejection);
    process.off('SIGHUP', onHangup);
  }
  io.error('handyrep daemon: stopped');
  return EXIT.OK;
}

function startFailure(err: unknown, configFile: string): { code: ExitCode; message: string } {
  if (err instanceof ConfigError) return { code: EXIT.CONFIG, message: `handyrep daemon: ${err.message}` };
  if (err instanceof HandyRepError) {
    switch (err.code) {
      case 'LOCKED':
        return {
          code: EXIT.LOCKED,
          message: `handyrep daemon: refusing to start: ${err.message}\nAnother HandyRep (daemon or library) already manages this cluster with ${configFile}'s server_file; stop it first.`,
        };
      case 'CONFIG_INVALID':
      case 'CONFIG_UNREADABLE':
      case 'PLUGIN_LOAD':
        return { code: EXIT.CONFIG, message: `handyrep daemon: configuration problem (${err.code}):\n${err.message}` };
      default:
        return { code: EXIT.FAILURE, message: `handyrep daemon: cannot start (${err.code}): ${err.message}` };
    }
  }
  const sysCode = (err as NodeJS.ErrnoException).code;
  if (sysCode === 'EADDRINUSE' || sysCode === 'EACCES' || sysCode === 'EADDRNOTAVAIL') {
    return { code: EXIT.LISTEN, message: `handyrep daemon: cannot listen: ${describeError(err)}` };
  }
  return { code: EXIT.FAILURE, message: `handyrep daemon: cannot start: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}` };
}
