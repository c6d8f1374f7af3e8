/**
 * `handyrep store migrate --to etcd|local` and `handyrep store check`: administration of where
 * the state lives (src/store/admin/). They read the configuration file directly (no daemon), like
 * `handyrep daemon`; migrate refuses while any HandyRep holds either store.
 */
import { Command, Option } from 'commander';
import { ConfigError } from '../config/config-error.js';
import { describeError, HandyRepError } from '../model/errors.js';
import { EXIT, type ExitCode } from './exit-codes.js';
import type { CliIo } from './io.js';

export function addStoreCommands(program: Command, io: CliIo, setCode: (code: ExitCode) => void, configFile: (command: Command, own: string | undefined) => string): void {
  const store = program.command('store').description('where the state lives: migrate between the local file and etcd, check etcd').usage('<migrate|check> ...');
  store
    .command('migrate')
    .description('copy definitions, statuses, failover and leadership history to the other store (every daemon stopped)')
    .addOption(new Option('--to <store>', 'the store to copy to').choices(['etcd', 'local']).makeOptionMandatory())
    .option('--overwrite', 'replace a state the target store already holds')
    .option('-c, --config <file>', 'configuration file ($HANDYREP_CONFIG or handyrep.yaml); its etcd section is used either way')
    .addHelpText('after', `
Examples:
  $ handyrep store migrate --to etcd --config /etc/handyrep/handyrep.yaml
  $ handyrep store migrate --to local --overwrite
The source store is left unchanged. Afterwards set handyrep.store in the configuration to the
target, then start the daemons. Refused (exit 4) while a daemon holds the local state file or
leads in etcd; refused (exit 1) when a topology change is in flight or the target holds a state.
`)
    .action(async (options: { to: 'etcd' | 'local'; overwrite?: boolean; config?: string }, command: Command) => {
      setCode(
        await runStoreAction(io, async () => {
          const { loadConfigFile } = await import('../config/load.js');
          const { migrateStore } = await import('../store/admin/store-migration.js');
          const loaded = loadConfigFile(configFile(command, options.config));
          const report = await migrateStore({ config: loaded.config, configDir: loaded.dir, to: options.to, overwrite: options.overwrite === true });
          io.out(
            `copied ${report.servers} servers, ${report.failoverRecords} failover records and ${report.leadershipChanges} leadership changes from the ${report.from} store to ${report.target}` +
              `${report.replaced ? ' (its previous state replaced)' : ''} as state version ${report.version}; read back and compared.\n` +
              `Next: set handyrep.store: ${report.to} in ${loaded.path}, then start the daemons. The ${report.from} store is unchanged.\n`,
          );
          return EXIT.OK;
        }),
      );
    });
  store
    .command('check')
    .description('check the local state file and etcd: endpoints, credentials, leader, state, journal (read only)')
    .option('-c, --config <file>', 'configuration file ($HANDYREP_CONFIG or handyrep.yaml)')
    .action(async (options: { config?: string }, command: Command) => {
      setCode(
        await runStoreAction(io, async () => {
          const { loadConfigFile } = await import('../config/load.js');
          const { checkStores } = await import('../store/admin/store-check.js');
          const loaded = loadConfigFile(configFile(command, options.config));
          const lines = await checkStores(loaded.config, loaded.dir);
          for (const line of lines) io.out(`${line.ok ? 'ok  ' : 'FAIL'} ${line.what}: ${line.details}\n`);
          return lines.every((l) => l.ok) ? EXIT.OK : EXIT.FAILURE;
        }),
      );
    });
}

async function runStoreAction(io: CliIo, action: () => Promise<ExitCode>): Promise<ExitCode> {
  try {
    return await action();
  } catch (err) {
    if (err instanceof ConfigError) {
      io.err(`handyrep store: ${err.message}\n`);
      return EXIT.CONFIG;
    }
    if (err instanceof HandyRepError) {
      io.err(`handyrep store: ${err.code}: ${err.message}\n`);
      if (err.code === 'LOCKED') return EXIT.LOCKED;
      return err.code === 'CONFIG_INVALID' || err.code === 'CONFIG_UNREADABLE' ? EXIT.CONFIG : EXIT.FAILURE;
    }
    io.err(`handyrep store: ${describeError(err)}\n`);
    return EXIT.FAILURE;
  }
}
