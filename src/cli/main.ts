/**
 * The `handyrep` command line (commander). For now one subcommand, `daemon`; the functions of
 * the operations table arrive as subcommands with the CLI issue. `main` returns the exit code
 * instead of exiting, so the launcher (bin/handyrep.js) decides when the process ends.
 */
import { Command, CommanderError } from 'commander';
import { packageVersion } from '../daemon/version.js';
import { runDaemonCommand } from './daemon-command.js';
import { EXIT, type ExitCode } from './exit-codes.js';

/** The default configuration file: $HANDYREP_CONFIG, else handyrep.yaml in the working folder. */
function defaultConfig(): string {
  return process.env['HANDYREP_CONFIG'] ?? 'handyrep.yaml';
}

/** Parse `args` (without node and the script) and run the command. */
export async function main(args: readonly string[]): Promise<ExitCode> {
  let code: ExitCode = EXIT.OK;
  const program = new Command()
    .name('handyrep')
    .description('PostgreSQL replication cluster manager')
    .version(packageVersion())
    .exitOverride();
  program
    .command('daemon')
    .description('run the controller: monitoring, failover and the REST API')
    .option('-c, --config <file>', 'configuration file ($HANDYREP_CONFIG or handyrep.yaml)', defaultConfig())
    .action(async (options: { config: string }) => {
      code = await runDaemonCommand(options.config);
    });
  try {
    await program.parseAsync([...args], { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version end through here with exit code 0.
      return err.exitCode === 0 ? EXIT.OK : EXIT.USAGE;
    }
    throw err;
  }
  return code;
}
