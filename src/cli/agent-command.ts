/**
 * `handyrep agent`: run the node agent of one server until SIGTERM or SIGINT. A clean stop
 * (systemctl stop) makes a master's PostgreSQL not writable before the master lease is released:
 * releasing the lease first would let a controller promote another node while this one still
 * takes writes. Start-up failures are one message with a distinct exit code.
 */
import { ConfigError } from '../config/config-error.js';
import { loadConfigFile } from '../config/load.js';
import { describeError, HandyRepError } from '../model/errors.js';
import { EXIT, type ExitCode } from './exit-codes.js';
import { agentTimingProblem } from '../agent/agent-timing.js';

export interface AgentCommandIo {
  out(line: string): void;
  error(line: string): void;
}

const stdIo: AgentCommandIo = {
  out: (line) => process.stdout.write(`${new Date().toISOString()} ${line}\n`),
  error: (line) => process.stderr.write(`${new Date().toISOString()} ${line}\n`),
};

export async function runAgentCommand(configFile: string, nodeOption: string | undefined, io: AgentCommandIo = stdIo): Promise<ExitCode> {
  const { NodeAgent } = await import('../agent/agent.js');
  let agent: InstanceType<typeof NodeAgent>;
  try {
    const { config, dir } = loadConfigFile(configFile);
    const timing = agentTimingProblem({ ttl: config.etcd.ttl, safetyMargin: config.agent.safety_margin });
    if (timing !== null) throw new HandyRepError('CONFIG_INVALID', timing);
    const node = nodeOption ?? config.agent.node;
    if (node === null || node === undefined) throw new HandyRepError('CONFIG_INVALID', 'give the server this agent looks after: --node <name> or agent.node');
    agent = new NodeAgent(config, node, { log: io.out, configDir: dir });
    await agent.start();
  } catch (err) {
    io.error(`handyrep agent: ${describeError(err)}`);
    if (err instanceof ConfigError || (err instanceof HandyRepError && err.code.startsWith('CONFIG'))) return EXIT.CONFIG;
    if (err instanceof Error && /EADDRINUSE|EACCES|EADDRNOTAVAIL/.test(err.message)) return EXIT.LISTEN;
    return EXIT.FAILURE;
  }
  const onRejection = (reason: unknown): void => io.error(`handyrep agent: unhandled rejection: ${describeError(reason)}`);
  process.on('unhandledRejection', onRejection);
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  io.out(`handyrep agent: ${signal}: stopping`);
  try {
    await agent.shutdown();
  } catch (err) {
    io.error(`handyrep agent: error while stopping: ${describeError(err)}`);
    return EXIT.FAILURE;
  } finally {
    process.off('unhandledRejection', onRejection);
  }
  io.out('handyrep agent: stopped');
  return EXIT.OK;
}
