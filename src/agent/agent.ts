/**
 * The node agent (`handyrep agent`): one per PostgreSQL node. Every loop_wait it observes its
 * PostgreSQL and the `master` key, asks decide.ts what to do, does it, and publishes its member
 * facts. The master lease has its own stale timer (agent-lease.ts), so a round stuck on an
 * unreachable etcd cannot delay the self-fencing.
 */
import type { Server } from 'node:http';
import type { HandyRepConfig } from '../config/schema.js';
import { describeError, HandyRepError } from '../model/errors.js';
import { createEtcdContext, type EtcdContext } from '../store/etcd/client.js';
import { AgentLease, KeepaliveChannel, monotonicMs, type MonotonicMs } from './agent-lease.js';
import { AGENT_PROMOTE_WAIT_MS, fenceLeadMs, replicaIdleCallMs } from './agent-timing.js';
import { putMasterLeaseIfStillMaster } from './boot-lease.js';
import { LeaseKeyKeeper } from './lease-key-keeper.js';
import { releaseStatingCrash } from './crash-release.js';
import { readMasterView } from './master-read.js';
import { BootRunner, type BootMasterLease } from './boot-runner.js';
import { BootStepKeeper } from './boot-step-keeper.js';
import { BOOT_LOCK_LABEL, type BootStep } from './boot-step.js';
import { commandExecutorFor } from './commands/agent-commands.js';
import type { CommandExecutor } from './commands/executor.js';
import { NodeLock } from './commands/node-lock.js';
import { electionSeatFor, electionStep, type ElectionSeat } from './election/agent-election.js';
import { rejoinAfterFence } from './election/rejoin.js';
import { decideAgentRound, type AgentPlan, type AgentReason, type MasterKeyView, type PostgresView } from './decide.js';
import { readTlsFiles } from '../daemon/tls-files.js';
import { factsNow, startHealthServer, type HealthFacts } from './health.js';
import { HealthAuth } from './health-auth.js';
import { resolveServer } from '../config/merge.js';
import { CopyGroups, groupsFile, reapLeftoverGroups } from './copy-groups.js';
import { LocalPostgres, processAlive, type SqlFacts } from './local-postgres.js';
import { masterLag, masterLagFacts, nextMasterIdentity, type MasterIdentity } from './master-lag.js';
import { MasterProbe } from './master-probe.js';
import { MasterWatch, mustReadBeforeActing } from './master-watch.js';
import { observeMaster, otherMaster, recordReadNeeded, type MasterRecordRead, type MasterSeen } from './master-view.js';
import { memberRecord, recordContent } from './member-record.js';
import { putMemberReadMaster } from './member-write.js';
import { parseMemberView } from '../store/etcd/member-view.js';
import { PositionWatch } from './position-watch.js';
import { classifyPostgres } from './postgres-state.js';
import { RECHECKS, wakePlan } from './session-watch.js';
import { Watchdog } from './watchdog.js';
import { syncKeeperFor, type SyncKeeper } from './sync/keeper-seat.js';

export interface AgentDeps {
  readonly log: (line: string) => void;
  readonly now?: MonotonicMs;
  /** Made from the configuration when absent. */
  readonly etcd?: EtcdContext;
  /** Folder of the configuration file (agent.tls_cert/tls_key are relative to it); default: the working folder. */
  readonly configDir?: string;
}

/** Both views name the same master (the probe and record read on one stand for the other). */
function sameMaster(a: MasterKeyView, b: MasterKeyView): boolean {
  return a.state === 'present' && b.state === 'present' && a.record.name === b.record.name && a.record.term === b.record.term;
}

export class NodeAgent {
  readonly #ctx: EtcdContext;
  readonly #pg: LocalPostgres;
  readonly #masterLease: AgentLease;
  readonly #memberLease: AgentLease;
  readonly #watchdog: Watchdog;
  readonly #masterProbe: MasterProbe;
  /** The `master` key for the rounds, from a watch (master-watch.ts). */
  readonly #masterWatch: MasterWatch;
  readonly #leaseKey: LeaseKeyKeeper;
  readonly #channel: KeepaliveChannel;
  readonly #callMs: number;
  readonly #loopMs: number;
  /** A replica's member renewal and record write (agent-timing.ts replicaIdleCallMs). */
  readonly #replicaIdleCallMs: number;
  readonly #now: MonotonicMs;
  #timer: NodeJS.Timeout | undefined;
  #server: Server | null = null;
  #stopped = false;
  #round: Promise<string> | null = null;
  /** The SQL session closed during a round: run another one when it ends (session-watch.ts). */
  #wakeAfterRound = false;
  #lastWakeMs = -Infinity;
  /** A command stopping or restarting PostgreSQL is under way: its session's end wakes nothing. */
  #commandStopping = false;
  #fencing: Promise<void> | null = null;
  // What the previous rounds saw (postgres-state.ts).
  #wasRunning = false;
  #stoppedByAgent = false;
  #crashRestartTried = false;
  /** The postmaster whose death was seen as a crash (restart_crashed waits until it is gone). */
  #crashedPid: number | null = null;
  #lastSentence = '';
  /** Role discovery at start (boot.ts, boot-runner.ts); until it is done each round asks it. */
  readonly #boot: BootRunner;
  /** The member lease and record while a boot step holds the round, naming the step (boot-step-keeper.ts). */
  readonly #bootStep: BootStepKeeper;
  /** The boot and the controller's commands: one at a time on this node (commands/node-lock.ts). */
  readonly #nodeLock = new NodeLock();
  readonly #copies: CopyGroups;
  /** The master a WAL receiver's report must come from (master-lag.ts); the last known one while etcd is down. */
  #masterIdentity: MasterIdentity | null = null;
  /** Aborted at stop: the boot starts no copy after it (copy-groups.ts kills the running ones). */
  readonly #stopping = new AbortController();
  #lastMember = '';
  /** The recorded master's member record as this agent's last write of its own read it (member-write.ts). */
  #masterRecord: MasterRecordRead | null = null;
  /** This node's WAL receiver streamed in the last round's facts (false until known: recordReadNeeded). */
  #streamingLastRound = false;
  /** The age facts of the member record (receiver streaming, master seen), kept across rounds. */
  readonly #positionWatch = new PositionWatch();
  /** The store revision of the last `master` read (a round's facts, read after it, are newer). */
  #readRevision: string | null = null;
  #memberRenewedMs = -Infinity;
  /** This round's member lease renewal, started with the master lease's (#holdMasterLease); #publish awaits it. */
  #memberRenewal: Promise<boolean> | null = null;
  #health: HealthFacts;
  /** control_method agent: runs the controller's node actions (src/agent/commands/); null otherwise. */
  readonly #commands: CommandExecutor | null;
  /** This agent fenced its own master; in deployment agents it rejoins as a standby (election/rejoin.ts). */
  #fencedOwnMaster = false;
  /** The agents' election (deployment ha/agents); null in single. */
  readonly #election: ElectionSeat | null;
  /** Deployment agents with synchronous_mode: the master's agent keeps the synchronous set (sync/); null otherwise. */
  readonly #syncKeeper: SyncKeeper | null;

  constructor(
    readonly config: HandyRepConfig,
    readonly node: string,
    private readonly deps: AgentDeps,
  ) {
    const server = config.servers[node];
    if (!server) throw new HandyRepError('CONFIG_INVALID', `agent: no server ${JSON.stringify(node)} under servers`);
    const defaults = config.server_defaults;
    const agent = config.agent;
    this.#now = deps.now ?? monotonicMs;
    this.#ctx = deps.etcd ?? createEtcdContext(config);
    const ttlMs = config.etcd.ttl * 1000;
    const freshForMs = ttlMs - agent.safety_margin * 1000;
    // Every etcd call must end well inside the fresh window, so a round can still act on time.
    this.#callMs = Math.max(300, Math.min(this.#ctx.deadlineMs, Math.floor(freshForMs / 3)));
    this.#loopMs = Math.round(agent.loop_wait * 1000);
    this.#replicaIdleCallMs = replicaIdleCallMs(this.#callMs, this.#loopMs, ttlMs);
    const pgdata = server.pgdata ?? defaults.pgdata;
    this.#pg = new LocalPostgres(
      {
        pgdata,
        pgctlDir: server.pgconf ?? defaults.pgconf ?? pgdata,
        pgBinDir: server.pg_bin_dir ?? defaults.pg_bin_dir,
        port: server.port ?? defaults.port,
        socketDir: agent.socket_dir,
        logFile: agent.pg_log_file,
      },
      Math.max(500, Math.min(this.#loopMs * 2, 5000)),
      () => this.#wake(),
      (line) => deps.log(`agent ${node}: ${line}`),
    );
    const channel = new KeepaliveChannel();
    this.#channel = channel;
    const fenceLead = fenceLeadMs(freshForMs);
    const onStale = (): void => void this.#fenceOwnMaster(`the master lease goes stale in ${fenceLead} ms (no renewal within ttl − safety_margin)`, true);
    this.#masterLease = new AgentLease(this.#ctx, 'master lease', freshForMs, onStale, this.#now, channel, fenceLead);
    this.#memberLease = new AgentLease(this.#ctx, 'member lease', ttlMs, () => undefined, this.#now, channel);
    this.#watchdog = new Watchdog(agent.watchdog, agent.watchdog_device);
    this.#masterWatch = new MasterWatch(this.#ctx, freshForMs, this.#now, (line) => deps.log(`agent ${node}: ${line}`));
    this.#leaseKey = new LeaseKeyKeeper(this.#ctx, node, (line) => deps.log(`agent ${node}: ${line}`), () => this.#masterLease.id);
    this.#copies = new CopyGroups(groupsFile(pgdata, node), (line) => deps.log(`agent ${node}: ${line}`));
    // A boot step (a copy: hours) holds the round: the member lease and record are kept by a timer of their own.
    this.#bootStep = new BootStepKeeper({
      node,
      intervalMs: Math.max(this.#callMs, Math.floor(ttlMs / 3)),
      // The short deadline: the first round after a boot that started a master waits for this renewal.
      renew: () => this.#renewMemberLease(this.#callMs),
      write: async (record) => {
        const sentMs = this.#now();
        const written = await putMemberReadMaster(this.#ctx, node, JSON.stringify(record), this.#memberLease.id as string, this.#callMs);
        this.#masterWatch.noteRead(written.revision, written.master, sentMs);
      },
      recordedMaster: () => this.#health.recordedMaster,
      position: () => this.#positionWatch.last,
      log: (line) => deps.log(`agent ${node}: ${line}`),
    });
    const onStep = (step: BootStep | null): void => this.#bootStep.step(step);
    this.#boot = new BootRunner({ config, node, pg: this.#pg, etcd: this.#ctx, callMs: this.#callMs, loopMs: this.#loopMs, lease: this.#bootLease(), log: deps.log, now: this.#now, groups: this.#copies, signal: this.#stopping.signal, onStep });
    this.#commands = commandExecutorFor(config, node, this.#ctx, Math.max(this.#callMs, this.#ctx.deadlineMs), deps.log, async () => {
      this.#commandStopping = false;
      await this.runRound();
      return this.runRound();
    }, () => {
      this.#stoppedByAgent = true;
      this.#commandStopping = true;
    }, this.#nodeLock, this.#copies, () => this.#guardFacts());
    this.#election = config.handyrep.deployment === 'single' ? null : this.#electionSeat();
    this.#syncKeeper = syncKeeperFor(config, node, this.#ctx, this.#callMs, deps.log, this.#pg.settings, {
      lease: () => ({ id: this.#masterLease.id, freshLeftMs: this.#masterLease.fresh() ? this.#masterLease.freshLeftMs() : 0 }),
      now: this.#now,
    });
    // The controller's timeout for its own probe (design §5 rule 1: same timeouts), within half the
    // ttl so a replica's round (and its member lease renewal) is not stretched past it.
    this.#masterProbe = new MasterProbe(config, Math.max(300, Math.min(config.handyrep.connect_timeout_seconds * 1000, ttlMs / 2)), (line) => deps.log(`agent ${node}: ${line}`));
    this.#health = { node, running: false, writable: false, primaryConfirmed: false, lagBytes: null, masterLagBytes: null, timeline: null, recordedMaster: null, lastReason: null, roundsTotal: 0, demotionsTotal: 0, leaseRenewedAtMs: null };
  }

  get health(): HealthFacts {
    return this.#health;
  }

  /** Starts the health endpoints and the rounds; rejects when the watchdog is required but missing. */
  async start(): Promise<void> {
    const problem = this.#watchdog.check();
    if (problem !== null) throw new HandyRepError('CONFIG_INVALID', problem);
    // A copy a SIGKILLed predecessor left running is killed before any round looks at the folder.
    const reaped = reapLeftoverGroups(this.#copies.file);
    if (reaped !== null) this.deps.log(`agent ${this.node}: ${reaped}`);
    const server = this.config.servers[this.node];
    const address = this.config.agent.listen_address ?? server?.hostname ?? '127.0.0.1';
    const tls = await readTlsFiles(this.config.agent, this.deps.configDir ?? process.cwd(), 'agent');
    const auth = new HealthAuth(this.config);
    this.#server = await startHealthServer(address, this.config.agent.port, () => factsNow(this.#health, this.#masterLease.fresh(), this.#fencing !== null), { tls, auth: (header, from) => auth.check(header, from) });
    this.deps.log(`agent ${this.node}: health endpoints on ${tls ? 'https' : 'http'}://${address}:${this.config.agent.port}/, loop every ${this.#loopMs} ms, etcd.ttl ${this.config.etcd.ttl} s, safety_margin ${this.config.agent.safety_margin} s`);
    this.#masterWatch.start();
    this.#leaseKey.start();
    this.#schedule(0);
    await this.#commands?.start();
  }

  /** Its master lease and PostgreSQL, read now, for the guard of a clone or rewind (commands/command-guard.ts). */
  async #guardFacts(): Promise<{ leaseHeld: boolean; postgres: 'stopped' | 'read_only' | 'writable' | 'unknown' }> {
    const { observation } = await this.#pg.observe();
    const postgres = !observation.pidAlive ? 'stopped' : observation.writable === null ? 'unknown' : observation.writable ? 'writable' : 'read_only';
    return { leaseHeld: this.#masterLease.held, postgres };
  }

  /** The master lease as role discovery takes it BEFORE starting PostgreSQL writable (boot-lease.ts). */
  #bootLease(): BootMasterLease {
    return {
      take: async (masterModRevision) => {
        try {
          if (!(await this.#masterLease.hold(this.#callMs))) return 'etcd says the master lease expired';
          const put = await putMasterLeaseIfStillMaster(this.#ctx, this.node, this.#masterLease.id as string, masterModRevision, this.#callMs);
          if (!put.ok) {
            await this.#masterLease.release(this.#callMs);
            return put.details;
          }
          this.#watchdog.arm();
          this.#watchdog.feed();
          return null;
        } catch (err) {
          await this.#masterLease.release(this.#callMs);
          return `master lease not taken: ${describeError(err)}`;
        }
      },
      renew: async () => {
        if (await this.#masterLease.hold(this.#callMs)) this.#watchdog.feed();
      },
      fresh: () => this.#masterLease.fresh(),
      held: () => this.#masterLease.held,
      release: async () => {
        await this.#masterLease.release(this.#callMs);
        this.#watchdog.disarm();
      },
    };
  }

  /** One round now (tests); concurrent callers share it. */
  runRound(): Promise<string> {
    this.#round ??= this.#doRound().finally(() => {
      this.#round = null;
      if (this.#wakeAfterRound) {
        this.#wakeAfterRound = false;
        this.#wake();
      }
    });
    return this.#round;
  }

  /**
   * Stops the rounds. `releaseLease`: revoke the master lease and disarm the watchdog (a clean
   * stop; systemd then stops PostgreSQL too, see contrib/systemd). PostgreSQL itself is left as it is.
   */
  async stop(releaseLease = true): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#cancelCopies();
    // First: a command finishing runs a round (commandExecutorFor), which must not start after this one.
    await this.#commands?.stop();
    await this.#round?.catch(() => undefined);
    await this.#syncKeeper?.stop();
    this.#bootStep.release();
    await this.#bootStep.settled();
    if (releaseLease) {
      await this.#masterLease.release(this.#callMs);
      await this.#memberLease.release(this.#callMs);
      this.#watchdog.disarm();
    }
    this.#masterLease.close();
    this.#memberLease.close();
    this.#channel.close();
    this.#masterProbe.close();
    this.#masterWatch.close();
    this.#election?.watch.close();
    this.#leaseKey.close();
    this.#pg.close();
    await new Promise<void>((resolve) => (this.#server ? this.#server.close(() => resolve()) : resolve()));
    this.#server?.closeAllConnections();
    this.#ctx.close();
  }

  /**
   * A clean stop (SIGTERM): a master's PostgreSQL is stopped BEFORE its lease is released, so that
   * no other node can be promoted while it still takes writes; a replica's is left running.
   */
  async shutdown(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    // A copy (pg_basebackup, pg_rewind, initdb) in the boot would hold the round for as long as it runs.
    await this.#cancelCopies();
    await this.#round?.catch(() => undefined);
    if (this.#masterLease.held || this.#health.writable) {
      const { observation } = await this.#pg.observe();
      if (observation.writable !== false && observation.pidAlive) await this.#fence('the agent is stopping');
    }
    await this.stop(true);
  }

  /** Aborts the boot (nothing new starts) and kills the process groups of its running commands. */
  async #cancelCopies(): Promise<void> {
    if (this.#stopping.signal.aborted) return;
    this.#stopping.abort();
    const running = await this.#copies.cancel();
    if (running > 0) this.deps.log(`agent ${this.node}: stopping: ${running} running boot command(s) (a copy, rewind or initdb) cancelled, their process groups killed`);
  }

  #schedule(ms: number): void {
    if (this.#stopped) return;
    // One timer at a time: a wake (below) replaces the pending one, and the chain goes on from it.
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.runRound().then((sentence) => {
        if (sentence !== this.#lastSentence) this.deps.log(`agent ${this.node}: ${sentence}`);
        this.#lastSentence = sentence;
        if (this.#timer === undefined) this.#schedule(this.#loopMs);
      });
    }, ms);
  }

  /** PostgreSQL ended the agent's SQL session (its postmaster may have died): a round now (session-watch.ts). */
  #wake(rechecksLeft = RECHECKS): void {
    const pid = this.#pg.postmasterPid();
    const postmaster = pid === null ? 'no_file' : processAlive(pid) ? 'alive' : 'died';
    const plan = wakePlan({ stopped: this.#stopped, postmaster, rechecksLeft, commandRunning: this.#commandStopping, roundRunning: this.#round !== null, sinceLastWakeMs: this.#now() - this.#lastWakeMs, minGapMs: this.#loopMs / 4 });
    if (plan.kind === 'after_round') this.#wakeAfterRound = true;
    if (plan.kind === 'recheck') setTimeout(() => this.#wake(rechecksLeft - 1), plan.ms).unref();
    if (plan.kind !== 'in') return;
    this.#lastWakeMs = this.#now() + plan.ms;
    this.#schedule(plan.ms);
  }

  async #doRound(): Promise<string> {
    this.#memberRenewal = null;
    try {
      if (this.#fencedOwnMaster && !this.#fencing) await this.#rejoinIfDue();
      if (!this.#boot.done) {
        // Never while a command of the controller runs (a clone, a rewind): tried again next round.
        const release = this.#nodeLock.tryEnter(BOOT_LOCK_LABEL);
        if (release !== null) {
          this.#bootStep.hold();
          await this.#boot.step().finally(async () => {
            this.#bootStep.release();
            // A long step's end is in the member record before a queued command may start (boot-step-busy.ts).
            await this.#bootStep.settled();
            release();
          });
        }
        // A write of the boot copy's record still under way would race this round's lease renewal.
        await this.#bootStep.settled();
      }
      let read = await this.#masterWatch.read(this.#callMs);
      if (read.readRevision !== null) this.#readRevision = read.readRevision;
      // Facts read now are at least as new as every etcd revision seen so far (the election's M3 rule).
      const factsAfterRevision = this.#readRevision;
      // The probe of the master and the read of its record go out with the facts query, so their
      // answers come in one wake-up (idle cost). Its readRevision comes from an etcd reply received
      // BEFORE the probe starts (review F3/X4): a revision from any later reply would date the probe
      // after events it may precede. From the watch it is the revision the view is known current
      // at (master-watch.ts), never later.
      const readRecordNow = recordReadNeeded({ elections: this.#election !== null, streamingLastRound: this.#streamingLastRound });
      const observing = observeMaster({ ctx: this.#ctx, prober: this.#masterProbe, node: this.node, callMs: this.#memberCallMs() }, read.view, this.#masterRecord, readRecordNow, read.readRevision);
      observing.catch(() => undefined);
      const { observation, facts } = await this.#pg.observe();
      this.#streamingLastRound = facts?.wal_receiver === 'streaming';
      const postgres = classifyPostgres(observation, { wasRunning: this.#wasRunning, stoppedByAgent: this.#stoppedByAgent });
      if (postgres.state === 'crashed') this.#crashedPid = observation.pidFilePid;
      if (postgres.state === 'crashed') {
        // Before the lease goes (decide.ts): a dead postmaster's backend may still commit.
        const killed = this.#pg.killLeftovers();
        this.deps.log(`agent ${this.node}: postmaster ${observation.pidFilePid} is gone and left postmaster.pid behind (a crash, not a stop)${killed > 0 ? `; ${killed} leftover process(es) of that instance killed` : ''}`);
      }
      this.#wasRunning = observation.pidAlive;
      if (postgres.state === 'running') this.#stoppedByAgent = false;
      if (postgres.state === 'running' && postgres.writable) this.#crashRestartTried = false;
      const decide = (view: MasterKeyView): AgentPlan =>
        decideAgentRound({
          node: this.node,
          master: view,
          postgres,
          leaseHeld: this.#masterLease.held,
          leaseFresh: this.#masterLease.fresh(),
          restartOnCrash: this.config.agent.restart_on_crash,
          crashRestartTried: this.#crashRestartTried,
        });
      const observed = read.view;
      let plan = decide(read.view);
      // Acting (anything but renewing a lease held) only on a linearizable read (master-watch.ts).
      if (read.source === 'watch' && mustReadBeforeActing(plan, this.#masterLease.held)) {
        read = await this.#masterWatch.read(this.#callMs, true);
        plan = decide(read.view);
        if (read.readRevision !== null) this.#readRevision = read.readRevision;
      }
      const { modRevision: masterModRevision } = read;
      let master = read.view;
      const [outcome, seenOfObserved] = await Promise.all([this.#act(plan, masterModRevision, read.view), observing]);
      if (seenOfObserved.fresh !== null) this.#masterRecord = seenOfObserved.fresh;
      // What was learned of another master than the one now recorded says nothing of it.
      const seen = sameMaster(observed, master) ? { probe: seenOfObserved.probe, record: seenOfObserved.record } : { probe: null, record: null };
      await this.#publish(postgres, facts, master, seen, factsAfterRevision).catch(() => undefined);
      // The master's record as this round's write may just have read it.
      const other = otherMaster(master, this.node);
      this.#updateHealth(postgres, facts, master, plan.reason, { ...seen, record: other !== null && this.#masterRecord?.key === other.key ? this.#masterRecord.record : seen.record });
      // Following another master is an action too: never on a watched view naming a new one.
      if (this.#election !== null && read.source === 'watch' && master.state === 'present' && master.record.name !== (this.#election.following ?? master.record.name)) master = (await this.#masterWatch.read(this.#callMs, true)).view;
      const elected = this.#election === null ? '' : await electionStep(this.#election, postgres, master);
      // Beside the round, never awaited: the keeper must not delay the next renewal (sync-keeper.ts).
      if (this.#syncKeeper !== null && postgres.state === 'running' && postgres.writable && master.state === 'present' && master.record.name === this.node) this.#syncKeeper.kick();
      return `${plan.sentence}${outcome}${elected}`;
    } catch (err) {
      return `round failed, next one in ${this.#loopMs} ms: ${describeError(err)}`;
    }
  }

  #fenceOwnMaster(why: string, urgent: boolean): Promise<void> {
    this.#fencedOwnMaster = true;
    return this.#fence(why, urgent);
  }

  /** Role discovery again after a fence of our own master, as a standby only (election/rejoin.ts). */
  async #rejoinIfDue(): Promise<void> {
    const { observation } = await this.#pg.observe();
    if (!rejoinAfterFence(this.config.handyrep.deployment, this.node, await this.#readMaster(), observation.pidAlive)) return;
    this.#fencedOwnMaster = false;
    this.#boot.again();
    this.deps.log(`agent ${this.node}: this node's master was fenced and another node is recorded: rejoining it as a standby`);
  }

  /** The agent's hands for the election (election/agent-election.ts). */
  #electionSeat(): ElectionSeat {
    const freshForMs = (this.config.etcd.ttl - this.config.agent.safety_margin) * 1000;
    return electionSeatFor(this.config, this.node, this.#ctx, this.#callMs, this.#now, this.deps.log, {
      grantLease: async () => {
        await this.#masterLease.hold(this.#callMs);
        return this.#masterLease.id as string;
      },
      releaseLease: () => this.#masterLease.release(this.#callMs),
      tookMaster: () => {
        // Before the promotion: a hung or killed agent must not leave a writable PostgreSQL unguarded.
        this.#watchdog.arm();
        this.#watchdog.feed();
      },
      requireSyncStandby: async () => {
        await this.#pg.requireSynchronousStandby();
        return { ok: true, details: 'set with ALTER SYSTEM and reloaded' };
      },
      promote: async () => {
        // The lease is renewed while PostgreSQL replays what it received; if renewals fail, the
        // stale timer stops PostgreSQL (and the promotion with it).
        const renew = setInterval(() => {
          void this.#masterLease.hold(this.#callMs).then((held) => held && this.#masterLease.fresh() && this.#watchdog.feed(), () => undefined);
        }, Math.max(200, Math.floor(freshForMs / 3)));
        let ok: boolean;
        try {
          ok = await this.#pg.promote(AGENT_PROMOTE_WAIT_MS);
        } finally {
          clearInterval(renew);
        }
        // pg_ctl giving up does not stop a promotion PostgreSQL already accepted: ask it.
        if (!ok) ok = (await this.#pg.observe()).facts?.in_recovery === false;
        ok &&= this.#masterLease.fresh();
        return { ok, details: ok ? 'pg_ctl promote -w: out of recovery' : 'pg_ctl promote failed, timed out or the master lease went stale (see the PostgreSQL log)' };
      },
      promotedFacts: () => this.#pg.promotedPosition(),
      standDown: async (why) => {
        await this.#fence(why);
        await this.#publish({ state: 'stopped' }, null, await this.#readMaster(), { probe: null, record: null }).catch(() => undefined);
      },
      remaster: async (why) => {
        // Role discovery then starts it as a standby of the recorded master (pg_rewind first when needed).
        this.#stoppedByAgent = true;
        const how = await this.#pg.stopForSure(Math.max(1000, this.config.agent.safety_margin * 500));
        this.#boot.again();
        this.deps.log(`agent ${this.node}: PostgreSQL stopped (${how}) to follow the new master: ${why}`);
      },
    });
  }

  async #readMaster(): Promise<MasterKeyView> {
    return (await readMasterView(this.#ctx, this.#callMs)).view;
  }

  async #act(plan: AgentPlan, masterModRevision: string, master: MasterKeyView): Promise<string> {
    let outcome = '';
    for (const action of plan.actions) {
      switch (action) {
        case 'demote':
          await this.#fenceOwnMaster(plan.sentence, plan.reason === 'lease_stale');
          outcome += '; demoted';
          break;
        case 'hold_lease':
          outcome += await this.#holdMasterLease(masterModRevision);
          break;
        case 'release_lease':
          // After a crash the release carries the statement that lets the controller skip its retries (crash-release.ts).
          if (plan.reason === 'crashed_release') outcome += await this.#releaseStatingCrash(master);
          else await this.#masterLease.release(this.#callMs);
          this.#watchdog.disarm();
          outcome += '; master lease released';
          break;
        case 'restart_crashed': {
          this.#crashRestartTried = true;
          const budgetMs = (this.config.etcd.ttl - this.config.agent.safety_margin) * 1000;
          const started = this.#crashedPid !== null && (await this.#pg.restartAfterCrash(this.#crashedPid, budgetMs));
          if (!started) {
            outcome += await this.#releaseStatingCrash(master);
            this.#watchdog.disarm();
          }
          outcome += started ? '; restarted' : '; restart failed, master lease released';
          break;
        }
      }
    }
    return outcome;
  }

  /** Releases the master lease with the record saying the postmaster crashed, in one transaction (crash-release.ts). */
  #releaseStatingCrash(master: MasterKeyView): Promise<string> {
    const record = memberRecord(this.node, { state: 'crashed' }, null, master, null, new Date().toISOString());
    const revoke = (): Promise<void> => this.#masterLease.release(this.#callMs);
    return releaseStatingCrash({ ctx: this.#ctx, node: this.node, record, memberLeaseId: this.#memberLease.id, masterLeaseId: this.#masterLease.id, callMs: this.#callMs, revoke });
  }

  /**
   * Renews the master lease, or grants it and puts `master_lease/<node>` only if the `master` key
   * is still at the revision this round judged on (boot-lease.ts): a hand-started old master must
   * not re-take its lease while the key moves to another node.
   */
  async #holdMasterLease(masterModRevision: string): Promise<string> {
    const granting = !this.#masterLease.held;
    try {
      const held = this.#masterLease.hold(this.#callMs);
      // A member lease renewal due this round rides on the same keep-alive stream in the same tick
      // (one write, one answer packet: nearly free) instead of a tick of its own in #publish.
      if (!granting && this.#memberLease.held && this.#memberRenewalDue()) {
        const renewal = this.#renewMemberLease();
        renewal.catch(() => undefined);
        this.#memberRenewal = renewal;
      }
      const ok = await held;
      if (!ok) return '; etcd says the master lease expired';
      if (granting) {
        const put = await putMasterLeaseIfStillMaster(this.#ctx, this.node, this.#masterLease.id as string, masterModRevision, this.#callMs);
        if (!put.ok) {
          await this.#masterLease.release(this.#callMs);
          return `; master lease not taken: ${put.details}`;
        }
        this.#watchdog.arm();
      }
      this.#watchdog.feed();
      // A key deleted while the lease lives is put back, off the round (lease-key-keeper.ts).
      if (!granting) this.#leaseKey.keepInBackground(this.#masterLease.id as string, masterModRevision, this.#callMs);
      return granting ? '; master lease taken' : '';
    } catch (err) {
      if (granting) await this.#masterLease.release(this.#callMs);
      return `; master lease not renewed: ${describeError(err)}`;
    }
  }

  /** Stop PostgreSQL for sure (shared by the round and the stale timer) and let the lease go. */
  #fence(why: string, urgent = false): Promise<void> {
    this.#fencing ??= (async () => {
      this.#stoppedByAgent = true;
      // Proxies are told at once, not after the stop.
      this.#health = { ...this.#health, primaryConfirmed: false };
      const how = await this.#pg.stopForSure(Math.max(1000, this.config.agent.safety_margin * 500), urgent);
      this.#health = { ...this.#health, running: false, writable: false, primaryConfirmed: false, demotionsTotal: this.#health.demotionsTotal + (how === 'not_running' ? 0 : 1) };
      this.#masterLease.drop();
      this.#watchdog.disarm();
      // The last renewal in epoch ms: how long the isolated side kept acknowledging after it (bench:agent).
      const sent = this.#masterLease.lastRenewalSentMs;
      const renewed = sent === null ? 'never' : `at ${Math.round(Date.now() - (this.#now() - sent))} ms since the epoch`;
      this.deps.log(`agent ${this.node}: PostgreSQL stopped (${how}): ${why} (last master lease renewal sent ${renewed})`);
    })().finally(() => {
      this.#fencing = null;
    });
    return this.#fencing;
  }

  async #publish(postgres: PostgresView, facts: SqlFacts | null, master: MasterKeyView, seen: MasterSeen, factsAfterRevision: string | null = null): Promise<void> {
    const nowIso = new Date().toISOString();
    const record = memberRecord(this.node, postgres, facts, master, seen.probe, nowIso, { ...this.#positionWatch.note(facts, master, seen, nowIso), facts_after_revision: factsAfterRevision });
    const content = recordContent(record);
    // Renewed this round already with the master lease's keep-alive (#holdMasterLease), or now.
    let renewal = this.#memberRenewal;
    this.#memberRenewal = null;
    if (renewal === null && this.#memberRenewalDue()) {
      const granting = !this.#memberLease.held;
      renewal = this.#renewMemberLease();
      // A grant first: its id is the write's lease. A renewal of the lease held goes out in the same
      // tick as the write, so both answers come in one wake-up (idle cost: a replica renews here).
      if (granting && !(await renewal)) return;
    }
    if (content === this.#lastMember) {
      if (renewal !== null) await renewal;
      return;
    }
    // No lease held (the renewal that rode on the master lease's keep-alive found it expired): the
    // next round grants one; a record written without a lease would outlive this agent.
    const id = this.#memberLease.id;
    if (id === null) {
      if (renewal !== null) await renewal;
      return;
    }
    const sentMs = this.#now();
    const also = otherMaster(master, this.node);
    const [held, written] = await Promise.all([renewal ?? true, putMemberReadMaster(this.#ctx, this.node, JSON.stringify(record), id, this.#memberCallMs(), also?.name ?? null)]);
    this.#masterWatch.noteRead(written.revision, written.master, sentMs);
    if (also !== null && written.alsoMember !== undefined) this.#masterRecord = { key: also.key, record: written.alsoMember === null ? null : parseMemberView(written.alsoMember) };
    // Written under a lease etcd then said expired: the next round grants another and writes again.
    if (held) this.#lastMember = content;
  }

  /**
   * The deadline of the member lease's renewal and the record's write: longer attempts only on a
   * replica (no master lease held, PostgreSQL not writable, no fence running): a master's round
   * must get to its next renewal or fence on time.
   */
  #memberCallMs(): number {
    return this.#masterLease.held || this.#health.writable || this.#fencing !== null ? this.#callMs : this.#replicaIdleCallMs;
  }

  #memberRenewalDue(): boolean {
    return !this.#memberLease.held || this.#now() - this.#memberRenewedMs >= (this.config.etcd.ttl * 1000) / 3;
  }

  async #renewMemberLease(callMs = this.#memberCallMs()): Promise<boolean> {
    // Rewritten with each renewal too: its observed_at is how readers tell it is fresh. Set as the
    // renewal is sent, so the write that goes out beside it (#publish) is that rewrite.
    this.#lastMember = '';
    const ok = await this.#memberLease.hold(callMs);
    this.#memberRenewedMs = this.#now();
    return ok;
  }

  /** A server's hostname as configured, resolved once per name: the agent's configuration is fixed for its lifetime. */
  readonly #hostOf = (name: string): string | null => {
    let host = this.#hosts.get(name);
    if (host === undefined) {
      const entry = this.config.servers[name];
      host = entry ? resolveServer(this.config.server_defaults, entry).hostname : null;
      this.#hosts.set(name, host);
    }
    return host;
  };

  readonly #hosts = new Map<string, string | null>();

  #updateHealth(postgres: PostgresView, facts: SqlFacts | null, master: MasterKeyView, reason: AgentReason, seen: MasterSeen): void {
    this.#masterIdentity = nextMasterIdentity(this.#masterIdentity, master, seen.record, this.#hostOf);
    const running = postgres.state === 'running';
    const writable = running && postgres.writable;
    const recordedMaster = master.state === 'present' ? master.record.name : null;
    const renewalSentMs = this.#masterLease.lastRenewalSentMs;
    this.#health = {
      ...this.#health,
      running,
      writable,
      primaryConfirmed: writable && recordedMaster === this.node && this.#masterLease.fresh(),
      lagBytes: facts?.replay_lag_bytes ?? null,
      ...masterLagFacts(masterLag(facts, seen.record, Date.now(), this.config.etcd.ttl * 1000, this.#masterIdentity)),
      leaseRenewedAtMs: renewalSentMs === null ? null : Date.now() - (this.#now() - renewalSentMs),
      timeline: facts?.timeline ?? null,
      recordedMaster,
      lastReason: reason,
      roundsTotal: this.#health.roundsTotal + 1,
    };
  }
}
