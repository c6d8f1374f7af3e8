/**
 * The client commands, built with commander from the operations table:
 * - one command per operation, named as the operation (`get_status`, also `get-status`), its
 *   flags and positional arguments generated from the parameter schema (params.ts);
 * - operator-friendly aliases on top (status, failover, switchover, clone, log, history, agents, server …,
 *   start, stop, verify, poll), each a variant of an operation's command (other names for some
 *   flags) or a small dispatcher (verify/poll with or without a name). Aliases are generated only
 *   for operations that exist in the table at run time.
 * Every command also takes the connection and output options (--url, --user, --password,
 * --client-config, --local, --config, --json, --timeout).
 */
import { Command, Option } from 'commander';
import { findOperation, OPERATIONS, type OperationSpec } from '../api/operations.js';
import { usageError } from './cli-error.js';
import type { ExitCode } from './exit-codes.js';
import type { CliIo } from './io.js';
import { collectParams, describeParams, recordFlag, type ParamFlag } from './params.js';
import { runOperation, type ClientOptions } from './run.js';

/** Where a command's exit code goes (commander actions return nothing). */
export interface CommandState {
  code: ExitCode;
}

const CONNECTION_GROUP = 'Connection and output options:';

/** The connection and output options, on the program and on every client command. */
export function addClientOptions(cmd: Command, options: { recordJson?: string | null } = {}): Command {
  const previous = cmd.optionsGroup();
  cmd.optionsGroup(CONNECTION_GROUP);
  cmd
    .option('--url <url>', 'daemon URL (else $HANDYREP_URL, the client config, http://127.0.0.1:8080)')
    .option('--user <name>', 'HTTP Basic user name (else $HANDYREP_USER; the daemon ignores it)')
    .option('--password <password>', 'API password (else $HANDYREP_PASSWORD or the client config; flags show in ps)')
    .option('--client-config <file>', 'client configuration (url, user, password; default ~/.config/handyrep/client.yaml)')
    .option('--local', 'library mode: run in this process with --config instead of through a daemon')
    .option('-c, --config <file>', 'configuration file for --local (else $HANDYREP_CONFIG, handyrep.yaml)')
    .option('--timeout <seconds>', 'how long to wait for the answer (default 60 s for reads, 15 min for actions)');
  if (options.recordJson) {
    cmd.option('--json [object]', `print the raw JSON answer; with a JSON object: the ${options.recordJson} (like --set)`);
  } else {
    cmd.option('--json', 'print the raw JSON answer (for scripts)');
  }
  cmd.optionsGroup(previous || 'Options:');
  return cmd;
}

/** The program's and the command's client options; the command's win. */
export function clientOptions(cmd: Command): ClientOptions {
  const merged: Record<string, unknown> = {};
  const chain: Command[] = [];
  for (let c: Command | null = cmd; c; c = c.parent) chain.unshift(c);
  for (const c of chain) {
    for (const [key, value] of Object.entries(c.opts())) if (value !== undefined) merged[key] = value;
  }
  return merged as ClientOptions;
}

/** How a command presents an operation: its name, other flag names, extra requirements, examples. */
export interface CommandVariant {
  name: string;
  /** Other names of the command. */
  aliases?: readonly string[];
  description?: string;
  /** Replace a parameter's flag name: { newmaster: 'to' } gives --to. */
  rename?: Readonly<Record<string, string>>;
  /** Another flag name for a parameter, besides its own: { clonefrom: 'from' }. */
  extra?: Readonly<Record<string, string>>;
  /** A short flag: { numlines: 'n' } gives -n. */
  short?: Readonly<Record<string, string>>;
  /** Parameters taken positionally (optional ones too), instead of the leading required ones. */
  positional?: readonly string[];
  /** Parameters that must be given although they have a default. */
  require?: readonly string[];
  examples?: readonly string[];
}

/** The flags of an operation as a variant presents them. */
export function variantFlags(spec: OperationSpec, variant: CommandVariant): ParamFlag[] {
  return describeParams(spec).map((f) => ({
    ...f,
    flag: variant.rename?.[f.param] ?? f.flag,
    positional: variant.positional ? variant.positional.includes(f.param) : f.positional,
    required: f.required || (variant.require?.includes(f.param) ?? false),
  }));
}

const SAMPLE_VALUES: Readonly<Record<string, string>> = {
  servername: 'paul',
  replicaserver: 'george',
  newmaster: 'paul',
  whichmaster: 'john',
  serverrole: 'replica',
  setting_name: 'failover poll_interval',
  numlines: '50',
  numentries: '10',
  check_type: 'verify',
  config_file: '/etc/handyrep/handyrep.yaml',
  clonefrom: 'paul',
};

/** One example command line for an operation, from its parameters. */
export function exampleFor(commandPath: string, flags: readonly ParamFlag[]): string {
  const parts = [`handyrep ${commandPath}`];
  const defining = flags.some((f) => f.kind === 'record');
  for (const f of flags) {
    const sample = f.param === 'servername' && defining ? 'ringo' : SAMPLE_VALUES[f.param] ?? (f.choices?.[f.choices.length - 1] ?? 'value');
    if (f.positional) parts.push(sample);
    else if (f.kind === 'record' && f.required) parts.push('--set hostname=10.0.0.4 --set port=5433');
    else if (f.required) parts.push(`--${f.flag} ${sample}`);
  }
  const optional = flags.find((f) => !f.required && !f.positional && f.kind !== 'record');
  const lines = [parts.join(' ')];
  if (optional) {
    const value = optional.kind === 'boolean' ? '' : ` ${SAMPLE_VALUES[optional.param] ?? optional.choices?.[optional.choices.length - 1] ?? 'value'}`;
    lines.push(`${parts.join(' ')} --${optional.flag}${value}`);
  }
  lines.push(`${parts.join(' ')} --json`);
  return lines.join('\n');
}

function examplesText(lines: readonly string[]): string {
  return `\nExamples:\n${lines.map((l) => `  $ ${l}`).join('\n')}\n`;
}

function optionFor(flag: ParamFlag, name: string, short: string | undefined, description: string): Option {
  const shortPart = short ? `-${short}, ` : '';
  switch (flag.kind) {
    case 'boolean':
      return new Option(`${shortPart}--${name}`, description);
    case 'record':
      return new Option(`${shortPart}--${name} <json>`, `${description} (a JSON object)`);
    case 'integer':
      return new Option(`${shortPart}--${name} <n>`, description);
    case 'list':
      return new Option(`${shortPart}--${name} <value>`, `${description} (several: a,b)`);
    default:
      return new Option(`${shortPart}--${name} <value>`, description);
  }
}

function describeFlag(flag: ParamFlag): string {
  const parts = [flag.description.replace(/(?<!\.)\.$/, '')];
  if (flag.choices) parts.push(`one of ${flag.choices.join(', ')}`);
  if (flag.defaultValue !== undefined && flag.defaultValue !== null && flag.kind !== 'boolean') parts.push(`default ${JSON.stringify(flag.defaultValue)}`);
  if (flag.kind === 'boolean' && flag.defaultValue !== null && flag.defaultValue !== undefined) parts.push(`default ${flag.defaultValue ? 'on' : 'off'}`);
  return parts.filter((p) => p !== '').join('; ');
}

/**
 * Add the command of an operation (or of a variant of it) to `parent`. Its action validates the
 * arguments against the table and runs the operation.
 */
export function addOperationCommand(parent: Command, spec: OperationSpec, variant: CommandVariant, io: CliIo, state: CommandState, commandPath = variant.name): Command {
  const flags = variantFlags(spec, variant);
  const record = recordFlag(spec);
  const positionals = flags.filter((f) => f.positional);
  const cmd = parent.command(variant.name);
  for (const alias of variant.aliases ?? []) if (alias !== variant.name) cmd.alias(alias);
  const access = spec.access === 'admin' ? 'admin password' : 'read password';
  cmd.description(`${variant.description ?? spec.summary.replace(/(?<!\.)\.$/, '')} [${spec.name}; ${access}${spec.web ? '' : '; --local only'}]`);
  for (const f of positionals) {
    cmd.argument(f.kind === 'list' ? `[${f.param}...]` : `[${f.param}]`, `${f.description}${f.required ? '' : ' (optional)'}`);
  }
  const usageArgs = positionals.map((f) => (f.required ? `<${f.param}${f.kind === 'list' ? '...' : ''}>` : `[${f.param}]`));
  cmd.usage([...usageArgs, '[options]'].join(' '));
  /** Parameter → commander attribute names that fill it. */
  const attributes = new Map<string, string[]>();
  const remember = (param: string, option: Option): void => {
    attributes.set(param, [...(attributes.get(param) ?? []), option.attributeName()]);
  };
  for (const f of flags) {
    const option = optionFor(f, f.flag, variant.short?.[f.param], describeFlag(f));
    cmd.addOption(option);
    remember(f.param, option);
    const other = variant.extra?.[f.param];
    if (other) {
      const second = optionFor(f, other, undefined, `same as --${f.flag}`);
      cmd.addOption(second);
      remember(f.param, second);
    }
    if (f.kind === 'boolean') cmd.addOption(new Option(`--no-${f.flag}`, `turn ${f.flag} off${f.nullable ? ' (neither: the configured default)' : ''}`));
  }
  if (record) {
    cmd.addOption(new Option('--set <key=value>', `one of the ${record.param} (repeatable): --set hostname=10.0.0.4 --set port=5433`).argParser((value: string, previous: string[] | undefined) => [...(previous ?? []), value]));
  }
  addClientOptions(cmd, { recordJson: record ? record.param : null });
  const examples = variant.examples ?? exampleFor(commandPath, flags).split('\n');
  cmd.addHelpText('after', examplesText(examples));
  cmd.action(async (...args: unknown[]) => {
    const command = args[args.length - 1] as Command;
    const opts = command.opts<Record<string, unknown>>();
    const typedFlags: Record<string, unknown> = {};
    for (const f of flags) {
      for (const attribute of attributes.get(f.param) ?? []) {
        const value = opts[attribute];
        if (value === undefined) continue;
        if (typedFlags[f.param] !== undefined && typedFlags[f.param] !== value) throw usageError(`${commandPath}: --${f.flag} is given twice with different values`);
        typedFlags[f.param] = value;
      }
    }
    const options = clientOptions(command);
    if (typeof opts['json'] === 'string') {
      // `--json '{...}'` on a command taking server settings: the settings, not the output format.
      if (!record) throw usageError(`${commandPath}: --json takes no value`);
      if (typedFlags[record.param] !== undefined) throw usageError(`${commandPath}: ${record.param} given both with --json and --${record.flag}`);
      typedFlags[record.param] = opts['json'];
      options.json = false;
    }
    const params = collectParams(spec, { positionals: command.args, flags: typedFlags, set: (opts['set'] as string[] | undefined) ?? [] }, commandPath, flags);
    state.code = await runOperation(spec.name, params, options, io);
  });
  return cmd;
}

/** `verify [name]` and `poll [name]`: one server by name, or all of them. */
function addOneOrAll(parent: Command, name: string, one: OperationSpec, all: OperationSpec, description: string, io: CliIo, state: CommandState): void {
  const cmd = parent
    .command(name)
    .description(`${description} [${one.name} / ${all.name}; admin password]`)
    .argument('[servername]', 'the server; none = every enabled server')
    .usage('[servername] [options]');
  addClientOptions(cmd);
  cmd.addHelpText('after', examplesText([`handyrep ${name}`, `handyrep ${name} paul`, `handyrep ${name} --json`]));
  cmd.action(async (servername: string | undefined, _opts: unknown, command: Command) => {
    const options = clientOptions(command);
    if (servername === undefined) {
      state.code = await runOperation(all.name, collectParams(all, { positionals: [], flags: {}, set: [] }, name), options, io);
    } else {
      const flags = describeParams(one).map((f) => ({ ...f, positional: f.param === one.positional[0] }));
      state.code = await runOperation(one.name, collectParams(one, { positionals: [servername], flags: {}, set: [] }, name, flags), options, io);
    }
  });
}

/** Add every client command: aliases first (their group in --help), then one per operation. */
export function addClientCommands(program: Command, io: CliIo, state: CommandState): void {
  const op = (name: string): OperationSpec | undefined => findOperation(name);
  const taken = new Set<string>();
  const variant = (spec: OperationSpec | undefined, v: CommandVariant, parent: Command = program, path = v.name): void => {
    if (!spec) return;
    addOperationCommand(parent, spec, v, io, state, path);
    if (parent === program) taken.add(v.name);
  };

  program.commandsGroup('Everyday commands (aliases of the functions below):');
  variant(op('get_status'), {
    name: 'status',
    description: 'Cluster table: role, status, lag and timeline of every server, and the cluster status',
    rename: { check_type: 'check' },
    examples: ['handyrep status', 'handyrep status --check verify', 'HANDYREP_URL=http://10.0.0.9:8080 HANDYREP_PASSWORD=... handyrep status', 'handyrep status --json | jq .cluster.status'],
  });
  variant(op('manual_failover'), {
    name: 'failover',
    description: 'Fail over to a new master: a lossless switchover when the master is healthy, a failover when it is not',
    rename: { newmaster: 'to' },
    examples: ['handyrep failover', 'handyrep failover --to paul', 'handyrep failover --to paul --dry-run', 'handyrep failover --no-remaster'],
  });
  variant(op('manual_failover'), {
    name: 'switchover',
    description: 'Planned switchover to the named replica (no committed write lost; FAIL and the old master kept if it cannot catch up)',
    rename: { newmaster: 'to' },
    require: ['newmaster'],
    examples: ['handyrep switchover --to paul', 'handyrep switchover --to paul --dry-run'],
  });
  variant(op('clone'), {
    name: 'clone',
    description: 'Clone a replica from the master (or --from another server), showing progress',
    extra: { clonefrom: 'from' },
    examples: ['handyrep clone george', 'handyrep clone george --reclone --from paul', 'handyrep clone george --no-wait'],
  });
  variant(op('read_log'), { name: 'log', description: 'The newest log entries (oldest first, newest at the bottom)', short: { numlines: 'n' }, examples: ['handyrep log', 'handyrep log -n 50', 'handyrep log --json'] });
  variant(op('failover_history'), { name: 'history', description: 'Failovers, switchovers and promotions (newest at the bottom)', short: { numentries: 'n' }, examples: ['handyrep history', 'handyrep history -n 5 --json'] });
  variant(op('get_agents'), { name: 'agents', description: "What each node's agent last published in etcd: role, PostgreSQL, boot step, lag, whether it sees the master; missing and stale agents flagged", examples: ['handyrep agents', 'handyrep agents --json | jq .agents.paul'] });
  variant(op('startup'), { name: 'start', description: 'Start PostgreSQL on a server and confirm it is up', examples: ['handyrep start paul'] });
  variant(op('shutdown'), { name: 'stop', description: 'Stop PostgreSQL on a server and confirm it is down', examples: ['handyrep stop paul'] });
  const verifyServer = op('verify_server');
  const verifyAll = op('verify_all');
  if (verifyServer && verifyAll) {
    addOneOrAll(program, 'verify', verifyServer, verifyAll, 'Verify one server fully, or every enabled server', io, state);
    taken.add('verify');
  }
  const poll = op('poll');
  const pollAll = op('poll_all');
  if (poll && pollAll) {
    addOneOrAll(program, 'poll', poll, pollAll, 'Poll one server, or every enabled master and replica', io, state);
    taken.add('poll');
  }
  const server = program.command('server').description('Server definitions: add, alter, enable, disable, remove, info, validate').usage('<add|alter|enable|disable|remove|info|validate> ...');
  taken.add('server');
  server.addHelpText('after', examplesText(['handyrep server add ringo --set hostname=10.0.0.4 --set port=5433', 'handyrep server alter ringo --set failover_priority=1', 'handyrep server enable ringo', 'handyrep server info ringo']));
  variant(op('add_server'), { name: 'add', description: 'Add a server definition (added disabled; enable it after)', examples: ['handyrep server add ringo --set hostname=10.0.0.4 --set port=5433 --set pgdata=/var/lib/postgresql/15/main', `handyrep server add ringo --json '{"hostname": "10.0.0.4", "port": 5433}'`] }, server, 'server add');
  variant(op('alter_server_def'), { name: 'alter', description: 'Change settings of a server', examples: ['handyrep server alter ringo --set failover_priority=1', 'handyrep server alter ringo --set nofailover=true'] }, server, 'server alter');
  variant(op('enable'), { name: 'enable', examples: ['handyrep server enable ringo'] }, server, 'server enable');
  variant(op('disable'), { name: 'disable', examples: ['handyrep server disable ringo'] }, server, 'server disable');
  variant(op('remove'), { name: 'remove', examples: ['handyrep server remove ringo'] }, server, 'server remove');
  variant(op('get_server_info'), { name: 'info', description: 'Full definition, status and observed facts of one server or of all', positional: ['servername'], examples: ['handyrep server info', 'handyrep server info paul --verify'] }, server, 'server info');
  variant(op('validate_server_settings'), { name: 'validate', description: 'Check a server definition: settings, control channel, database login', examples: ['handyrep server validate ringo', 'handyrep server validate ringo --set port=5433'] }, server, 'server validate');

  program.commandsGroup('API functions (one per function of the operations table; also with dashes: get-status):');
  for (const spec of OPERATIONS) {
    if (taken.has(spec.name)) continue;
    const kebab = spec.name.replace(/_/g, '-');
    variant(spec, { name: spec.name, aliases: kebab !== spec.name ? [kebab] : [] });
  }
}
