/**
 * shutdown, startup and restart of one server through its restart plugin, each confirmed by
 * looking again (pg_ctl status, a poll, a verification) rather than trusting an exit code — the
 * original reported a stop as done because the command returned (reference §3.6).
 */
import { failure, success, type Rd } from '../model/rd.js';
import { describeError } from '../model/errors.js';
import type { ControlAction, ControlOutcome } from '../plugins/types.js';
import type { Checks, ChecksEnv } from './checks.js';
import { serverRef } from './checks.js';
import { observeRunning } from './observe.js';

export interface NodeControlEnv extends ChecksEnv {
  checks: Checks;
  sleep: (ms: number) => Promise<void>;
  /** Why this controller must not stop or start a node now (not leading), or null; absent = always null. */
  mayAct?: () => string | null;
}

export class NodeControl {
  constructor(private readonly env: NodeControlEnv) {}

  private async control(name: string, action: ControlAction): Promise<ControlOutcome> {
    const server = serverRef(name, this.env.book.get(name));
    try {
      const refusal = this.env.mayAct?.() ?? null;
      if (refusal !== null) return { ok: false, details: `${action} of ${name} not issued: ${refusal}` };
      const plugin = this.env.plugins.get('restart', server.restart_method);
      return await plugin.control(this.env.ctx(), server, action);
    } catch (err) {
      return { ok: false, details: describeError(err) };
    }
  }

  private async isRunning(name: string): Promise<boolean | null> {
    return observeRunning({ ctx: this.env.ctx(), plugins: this.env.plugins }, serverRef(name, this.env.book.get(name)));
  }

  /** Stop PostgreSQL (fast mode) and confirm it is down. */
  async shutdown(name: string): Promise<Rd> {
    this.env.book.get(name);
    const stop = await this.control(name, 'stop');
    const running = await this.isRunning(name);
    if (running === false) {
      this.env.book.applyStatus(name, { status: 'down', message: 'server has been shut down' });
      return success(`shutdown of ${name} succeeded`);
    }
    if (running === null) {
      // No control channel answer: a server that refuses connections is stopped all the same.
      const poll = await this.env.checks.pollServer(name);
      if (poll.status === 'down') return success(`shutdown of ${name} succeeded (confirmed by refused connections)`);
    }
    this.env.book.applyStatus(name, { status: 'warning', message: `attempted shutdown, server still running: ${stop.details}` });
    return failure(`server ${name} does not shut down: ${stop.details}`);
  }

  /** Start PostgreSQL and confirm it answers and verifies. */
  async startup(name: string): Promise<Rd> {
    const record = this.env.book.get(name);
    if (!record.enabled) return failure(`server ${name} is disabled; enable it before starting it`);
    const start = await this.control(name, 'start');
    if (!start.ok && (await this.isRunning(name)) !== true) {
      this.env.book.applyStatus(name, { status: 'down', message: `server does not start: ${start.details}` });
      return failure(`server ${name} does not start: ${start.details}`);
    }
    return this.confirmUp(name, 'started');
  }

  /** Restart PostgreSQL (fast mode); a server that was not running is started. */
  async restart(name: string): Promise<Rd> {
    const record = this.env.book.get(name);
    if (!record.enabled) return failure(`server ${name} is disabled; enable it before restarting it`);
    const restart = await this.control(name, 'restart');
    if (!restart.ok) {
      const running = await this.isRunning(name);
      if (running === true) {
        this.env.book.applyStatus(name, { status: 'warning', message: `server does not respond to restart commands: ${restart.details}` });
        return failure(`server ${name} is running but does not restart: ${restart.details}`);
      }
      const start = await this.control(name, 'start');
      if (!start.ok) {
        this.env.book.applyStatus(name, { status: 'down', message: `server does not restart: ${start.details}` });
        return failure(`server ${name} does not restart: ${restart.details}; start: ${start.details}`);
      }
    }
    return this.confirmUp(name, 'restarted');
  }

  /**
   * Wait until the server answers polls, then verify it; its verification sets the status. A
   * verification that fails is asked again within the same attempts: a replica answers queries a
   * moment before its WAL receiver streams from the master (seconds on a busy host), and a start
   * is only done once it does.
   */
  private async confirmUp(name: string, verb: string): Promise<Rd> {
    const failover = this.env.ctx().config.failover;
    let failedVerification: string | null = null;
    for (let attempt = 0; attempt < failover.recovery_retries; attempt += 1) {
      if (attempt > 0) await this.env.sleep(failover.fail_retry_interval * 1000);
      const poll = await this.env.checks.pollServer(name);
      if (poll.result !== 'SUCCESS') continue;
      const verify = await this.env.checks.verifyServer(name);
      if (verify.result === 'SUCCESS') return success(`server ${name} ${verb}: ${verify.details}`);
      failedVerification = verify.details;
    }
    if (failedVerification !== null) return failure(`server ${name} ${verb} but failed verification: ${failedVerification}`);
    this.env.book.applyStatus(name, { status: 'unavailable', message: `server ${verb}, but does not respond` });
    return failure(`server ${name} ${verb}, but does not respond to polling`);
  }
}
