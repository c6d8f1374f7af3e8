/**
 * The `handyrep` command line (commander): the client commands generated from the operations
 * table plus their aliases (commands.ts), `daemon` (the controller) and `demo` (a local 3-node
 * cluster watched by a daemon). `main` returns the exit code instead of exiting, so the launcher
 * (bin/handyrep.js) decides when the process ends. Exit codes: exit-codes.ts.
 *
 * Heavy modules (the daemon, the library, PostgreSQL and SSH clients) are imported only by the
 * commands that need them, so a client command starts quickly.
 */
import { Command, CommanderError, Option } from 'commander';
import { packageVersion } from '../daemon/version.js';
import { CliError, usageError } from './cli-error.js';
import { addClientCommands, addClientOptions, type CommandState } from './commands.js';
import { EXIT, type ExitCode } from './exit-codes.js';
import { processIo, type CliIo } from './io.js';
import { parseInteger } from './params.js';
import { addStoreCommands } from './store-command.js';

/** The default configuration file: $HANDYREP_CONFIG, else handyrep.yaml in the working folder. */
function defaultConfig(env: NodeJS.ProcessEnv): string {
  return env['HANDYREP_CONFIG'] ?? 'handyrep.yaml';
}

/** `--check_type` is accepted for `--check-type` (the parameter's own spelling). */
export function normaliseFlagSpelling(args: readonly string[]): string[] {
  const out: string[] = [];
  let ended = false;
  for (const arg of args) {
    if (arg === '--') ended = true;
    const match = ended ? null : /^--([a-z][a-z0-9]*(?:_[a-z0-9]+)+)(=.*)?$/s.exec(arg);
    out.push(match ? `--${(match[1] as string).replace(/_/g, '-')}${match[2] ?? ''}` : arg);
  }
  return out;
}

const PROGRAM_HELP = `
Examples:
  $ npm start                                   # the demo: a local 3-node cluster and its controller
  $ handyrep status                             # cluster table (daemon from $HANDYREP_URL)
  $ handyrep failover --to paul                 # switchover to paul (failover if the master is down)
  $ handyrep log -n 50
  $ handyrep server add ringo --set hostname=10.0.0.4 --set port=5433
  $ handyrep get_server_info --servername paul --json
  $ handyrep verify --local --config handyrep.yaml   # library mode, no daemon
  $ handyrep daemon --config /etc/handyrep/handyrep.yaml
  $ handyrep store migrate --to etcd --config handyrep.yaml   # then handyrep.store: etcd

Connection: --url / $HANDYREP_URL (default http://127.0.0.1:8080), --password / $HANDYREP_PASSWORD,
or ~/.config/handyrep/client.yaml (url, user, password).
Exit codes: 0 success, 1 the function answered FAIL (or authentication failed), 2 usage error
(unknown command, bad flag or value, unknown server, bad configuration), 3 cannot reach the daemon,
4 state file locked (daemon, --local), 5 daemon cannot listen.
`;

function buildProgram(io: CliIo, state: CommandState): Command {
  const program = new Command()
    .name('handyrep')
    .description('PostgreSQL replication cluster manager: client of the HandyRep daemon, the daemon itself, and a local demo')
    .version(packageVersion())
    .exitOverride()
    .enablePositionalOptions()
    .showHelpAfterError('(add --help for usage)')
    .configureOutput({ writeOut: (s) => io.out(s), writeErr: (s) => io.err(s) })
    // In command lists: the name and its arguments (`poll [servername]`), no aliases or "[options]".
    .configureHelp({ subcommandTerm: (cmd) => [cmd.name(), cmd.usage().replace(/\s*\[options\]\s*/g, ' ').trim()].filter((s) => s !== '').join(' ') });
  addClientOptions(program);
  program.addHelpText('after', PROGRAM_HELP);

  addClientCommands(program, io, state);

  program.commandsGroup('Controller:');
  const env = io.env;
  program
    .command('daemon')
    .description('run the controller: monitoring, failover and the REST API (until SIGTERM/SIGINT)')
    .option('-c, --config <file>', 'configuration file ($HANDYREP_CONFIG or handyrep.yaml)')
    .addHelpText('after', `
Examples:
  $ handyrep daemon --config /etc/handyrep/handyrep.yaml
  $ HANDYREP_CONFIG=handyrep.yaml handyrep daemon

Exit codes: 0 stopped cleanly, 1 unexpected error, 2 bad command line or configuration,
4 the state file is locked by another HandyRep, 5 cannot listen.
`)
    .action(async (options: { config?: string }, command: Command) => {
      const { runDaemonCommand } = await import('./daemon-command.js');
      const inherited = command.parent?.opts<{ config?: string }>().config;
      state.code = await runDaemonCommand(options.config ?? inherited ?? defaultConfig(env));
    });
  program
    .command('agent')
    .description('run the node agent of one PostgreSQL node: self-fencing master lease, member facts, health endpoints (until SIGTERM/SIGINT)')
    .option('-c, --config <file>', 'configuration file ($HANDYREP_CONFIG or handyrep.yaml)')
    .option('--node <name>', 'the server (under servers) this agent looks after; default agent.node')
    .addHelpText('after', `
Runs on the node, as the PostgreSQL OS user. See docs/node-agent.md and contrib/systemd/handyrep-agent.service.

Examples:
  $ handyrep agent --config /etc/handyrep/handyrep.yaml --node john

Exit codes: 0 stopped cleanly, 1 unexpected error, 2 bad command line or configuration, 5 cannot listen.
`)
    .action(async (options: { config?: string; node?: string }, command: Command) => {
      const { runAgentCommand } = await import('./agent-command.js');
      const inherited = command.parent?.opts<{ config?: string }>().config;
      state.code = await runAgentCommand(options.config ?? inherited ?? defaultConfig(env), options.node);
    });
  addStoreCommands(
    program,
    io,
    (code) => {
      state.code = code;
    },
    (command, own) => own ?? command.parent?.parent?.opts<{ config?: string }>().config ?? defaultConfig(env),
  );
  program
    .command('demo')
    .description('a local 3-node PostgreSQL cluster (127.0.0.11-13) watched by a daemon with automatic failover; Ctrl-C stops everything')
    .option('--dir <dir>', 'folder of the demo (configuration, state, log; the cluster too when PostgreSQL can reach it)', '.handyrep-demo')
    .option('--fresh', 'delete the demo cluster and build it again')
    .option('--ha', 'high availability: a 3-member etcd (127.0.0.51-53) and two controllers on --port and --port+1; kill -9 the leader to see a takeover')
    .addOption(new Option('--port <port>', 'port of the REST API (0: any free port)').default('8080'))
    .addHelpText('after', `
Examples:
  $ npm start                        # = handyrep demo
  $ handyrep demo --fresh --port 8081
Then, in another terminal, the commands it prints (handyrep status, kill -9 of the master, …).
Needs PostgreSQL 12+ server binaries (Debian: postgresql-15) and the loopback addresses 127.0.0.11-13
free on port 5432. As root, PostgreSQL runs as the postgres user.
`)
    .action(async (options: { dir: string; fresh?: boolean; port: string; ha?: boolean }) => {
      const port = parseInteger(options.port);
      if (port === null || port < 0 || port > 65535) throw usageError(`--port: "${options.port}" is not a port number (0-65535)`);
      const { runDemo } = await import('../demo/demo-command.js');
      state.code = (await runDemo({ dir: options.dir, fresh: options.fresh === true, ha: options.ha === true, port, out: (line) => io.out(`${line}\n`) })) as ExitCode;
    });
  return program;
}

/** Parse `args` (without node and the script) and run the command. */
export async function main(args: readonly string[], io: CliIo = processIo()): Promise<ExitCode> {
  const state: CommandState = { code: EXIT.OK };
  const program = buildProgram(io, state);
  try {
    await program.parseAsync(normaliseFlagSpelling(args), { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version end through here with exit code 0; commander printed its message.
      return err.exitCode === 0 ? EXIT.OK : EXIT.USAGE;
    }
    if (err instanceof CliError) {
      io.err(`handyrep: ${err.message}\n`);
      if (err.exitCode === EXIT.USAGE && /^(no function|.*: missing |.*: unexpected argument)/.test(err.message)) io.err('(add --help for usage)\n');
      return err.exitCode;
    }
    io.err(`handyrep: unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    return EXIT.FAILURE;
  }
  return state.code;
}
