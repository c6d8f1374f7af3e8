/**
 * The agents' election transaction (design §9 rule 6) raced on a real 3-member etcd: two agents'
 * election code (elector.ts, election-store.ts: snapshot, judgement, take, confirm, give-back) with
 * member records made by member-record.ts. PostgreSQL is stood in for by the hands (promote
 * succeeds or fails on demand): what is under test is who may take `master`, not the promotion
 * (agent-election.test.ts runs the whole path on real PostgreSQL).
 *
 *   - 20 runs with random delays: paul ahead; ringo's record moves further ahead at a random
 *     moment while both try, each retrying as its agent's rounds would → exactly one wins, the
 *     key and the only master lease name it, and the winner was the furthest ahead of the member
 *     records as they stood when it took the key;
 *   - a master lease still alive → nobody takes;
 *   - the best candidate's promotion fails → it stands down and gives the key back, the other one
 *     wins on its next attempt; both history entries are in etcd.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { readElectionSnapshot, takeMaster } from '../../src/agent/election/election-store.js';
import { Elector, type ElectionHands, type ElectionOutcome } from '../../src/agent/election/elector.js';
import type { ServerElectionSettings } from '../../src/agent/election/judge.js';
import { memberRecord } from '../../src/agent/member-record.js';
import { parseConfig } from '../../src/config/load.js';
import { createEtcdContext, type EtcdContext } from '../../src/store/etcd/client.js';
import { encodeMasterRecord, parseMasterRecord } from '../../src/store/etcd/master-record.js';
import { startEtcdCluster, type EtcdCluster } from '../fixtures/etcd.js';
import { replicaFacts } from '../fixtures/member-facts.js';

const TTL = 5;
const RUNS = 20;
let etcd: EtcdCluster;
const contexts: EtcdContext[] = [];
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function context(prefix: string): EtcdContext {
  const ctx = createEtcdContext(parseConfig(JSON.stringify({ etcd: { endpoints: etcd.endpoints, prefix, ttl: TTL, retry_timeout: 2 } }), 'test'));
  contexts.push(ctx);
  return ctx;
}

async function putMember(ctx: EtcdContext, name: string, received: string | null): Promise<string> {
  const master = { state: 'present' as const, record: parseMasterRecord(ctx.keys.master, (await ctx.client.get(ctx.keys.master).string()) ?? '') };
  const now = new Date().toISOString();
  // As its agent publishes it: streaming until it last saw the master, which was at 0/1000000.
  const position = { receiver_streaming_at: now, master_seen_at: now, master_lsn_seen: '0/1000000', master_lsn_seen_for: `${master.record.name}/${master.record.term}`, master_timeline_seen: master.record.timeline ?? 1 };
  const record = received === null ? memberRecord(name, { state: 'stopped' }, null, master, null, now) : memberRecord(name, { state: 'running', writable: false }, replicaFacts(received), master, null, now, position);
  const reply = await ctx.client.kv.put({ key: Buffer.from(ctx.keys.member(name)), value: Buffer.from(JSON.stringify(record)) });
  return reply.header.revision;
}

const settings: ServerElectionSettings = { failoverPriority: 999, nofailover: false, lagLimitMb: 100 };
const servers = { john: settings, paul: settings, ringo: settings };

interface Seat {
  readonly name: string;
  readonly elector: Elector;
  readonly log: string[];
  /** The hands called, in order. */
  readonly calls: string[];
}

function seat(ctx: EtcdContext, name: string, promote: () => Promise<boolean>, promoteDelayMs: () => number, deployment: 'agents' | 'ha' = 'agents', now: () => number = () => performance.now(), synchronousMode: 'off' | 'on' = 'off'): Seat {
  const log: string[] = [];
  const calls: string[] = [];
  let leaseId: string | null = null;
  const hands: ElectionHands = {
    tookMaster: () => calls.push('took'),
    requireSyncStandby: async () => {
      calls.push('sync');
      return { ok: true, details: 'stand-in' };
    },
    grantLease: async () => {
      leaseId = (await ctx.client.leaseClient.leaseGrant({ TTL })).ID;
      return leaseId;
    },
    releaseLease: async () => {
      if (leaseId !== null) await ctx.client.leaseClient.leaseRevoke({ ID: leaseId }).catch(() => undefined);
      leaseId = null;
    },
    promote: async () => {
      calls.push('promote');
      await sleep(promoteDelayMs());
      const ok = await promote();
      return { ok, details: ok ? 'promoted (stand-in)' : 'pg_ctl promote failed (stand-in)' };
    },
    promotedFacts: async () => ({ timeline: 2, lsn: '0/9000000' }),
    standDown: async () => {
      calls.push('standDown');
      await putMember(ctx, name, null);
    },
  };
  const elector = new Elector(ctx, { node: name, deployment, ttlMs: TTL * 1000, loopWaitMs: 1000, servers, maxReplayLagMb: 1000, synchronousMode, callMs: 2000 }, hands, now, (line) => log.push(line));
  return { name, elector, log, calls };
}

/** john's agent held its master lease while every seat looked (an election needs that), then it ran out. */
async function leaseSeenThenExpired(ctx: EtcdContext, seats: readonly Seat[]): Promise<void> {
  const lease = ctx.client.lease(TTL, { autoKeepAlive: false });
  await lease.put(ctx.keys.masterLease('john')).value('{}');
  for (const s of seats) {
    const outcome = await s.elector.attempt();
    assert.equal(outcome.kind === 'refused' ? outcome.code : outcome.kind, 'master_lease_held');
  }
  await lease.revoke();
}

/** Attempts as the agent's rounds would (every `roundMs`) until this seat won, lost to a taken key, or `untilMs`. */
async function rounds(s: Seat, firstDelayMs: number, roundMs: number, untilMs: number): Promise<ElectionOutcome[]> {
  const outcomes: ElectionOutcome[] = [];
  await sleep(firstDelayMs);
  const end = performance.now() + untilMs;
  while (performance.now() < end) {
    const outcome = await s.elector.attempt();
    outcomes.push(outcome);
    if (outcome.kind === 'won' || (outcome.kind === 'refused' && outcome.code === 'master_lease_held')) break;
    await sleep(roundMs);
  }
  return outcomes;
}

before(async () => {
  etcd = await startEtcdCluster({ members: 3 });
});
after(async () => {
  for (const ctx of contexts) ctx.close();
  await etcd?.stop();
});

describe('agents\' election: the take transaction raced on real etcd', { timeout: 240_000 }, () => {
  it(`two replicas racing (${RUNS} runs, random delays) → exactly one wins, and it was the furthest ahead when it took the key`, async () => {
    const winners: Record<string, number> = { paul: 0, ringo: 0 };
    let refusedByMovedRecord = 0;
    for (let run = 0; run < RUNS; run++) {
      const prefix = `/handyrep/race${run}/`;
      const [paulCtx, ringoCtx, testCtx] = [context(prefix), context(prefix), context(prefix)];
      await testCtx.client.put(testCtx.keys.master).value(encodeMasterRecord({ name: 'john', term: '1', timeline: 1, promoted_lsn: null, sync_set: [], since: new Date().toISOString(), written_by: 'test' }));
      await putMember(testCtx, 'paul', '0/3000000');
      await putMember(testCtx, 'ringo', '0/2000000');
      const rnd = (max: number): number => Math.floor(Math.random() * max);
      const paul = seat(paulCtx, 'paul', async () => true, () => rnd(30));
      const ringo = seat(ringoCtx, 'ringo', async () => true, () => rnd(30));
      await leaseSeenThenExpired(testCtx, [paul, ringo]);
      // ringo's WAL receiver got more WAL at a random moment during the race.
      let ringoMovedAt: bigint | null = null;
      const [paulOut, ringoOut] = await Promise.all([
        rounds(paul, rnd(40), 20 + rnd(30), 3000),
        rounds(ringo, rnd(40), 20 + rnd(30), 3000),
        (async () => {
          await sleep(rnd(60));
          ringoMovedAt = BigInt(await putMember(testCtx, 'ringo', '0/4000000'));
        })(),
      ]);
      const won = [...paulOut.map((o) => ['paul', o] as const), ...ringoOut.map((o) => ['ringo', o] as const)].filter(([, o]) => o.kind === 'won');
      assert.equal(won.length, 1, `run ${run}: exactly one winner (paul: ${paul.log.join(' | ')}; ringo: ${ringo.log.join(' | ')})`);
      const [winner, outcome] = won[0] as readonly [string, ElectionOutcome];
      winners[winner] = (winners[winner] ?? 0) + 1;
      refusedByMovedRecord += [...paul.log, ...ringo.log].filter((l) => l.includes('member record of ringo changed')).length;
      const master = parseMasterRecord(testCtx.keys.master, (await testCtx.client.get(testCtx.keys.master).string()) ?? '');
      assert.equal(master.name, winner, `run ${run}: the key names the winner`);
      assert.deepEqual((winner === 'paul' ? paul : ringo).calls, ['took', 'promote'], 'the take is announced (watchdog armed) before the promotion');
      assert.equal(master.written_by, `agent:${winner}`);
      assert.equal(master.timeline, 2, 'confirmed');
      assert.deepEqual(await testCtx.client.getAll().prefix(testCtx.keys.masterLeasePrefix).keys(), [testCtx.keys.masterLease(winner)], `run ${run}: only the winner holds a master lease`);
      // The take's revision is in the history id (e<revision>-<node>): ringo was ahead from ringoMovedAt on.
      const takenAt = BigInt(/^e(\d+)-/.exec(outcome.kind === 'won' ? outcome.historyId : '')?.[1] ?? '0');
      assert.ok(ringoMovedAt !== null);
      assert.equal(winner, takenAt > (ringoMovedAt as bigint) ? 'ringo' : 'paul', `run ${run}: taken at revision ${takenAt}, ringo moved ahead at ${String(ringoMovedAt)}`);
      const history = JSON.parse((await testCtx.client.get(testCtx.keys.history(outcome.kind === 'won' ? outcome.historyId : 'x')).string()) ?? '{}') as { outcome?: string; from?: string; to?: string };
      assert.deepEqual([history.outcome, history.from, history.to], ['SUCCESS', 'john', winner]);
      await testCtx.client.delete().prefix(prefix);
      for (const ctx of [paulCtx, ringoCtx, testCtx]) ctx.close();
    }
    console.log(`  winners over ${RUNS} runs: ${JSON.stringify(winners)}; takes refused because ringo's record moved: ${refusedByMovedRecord}`);
  });

  it('a master lease still alive → nobody takes the key; gone → an agent that saw it held takes', async () => {
    const prefix = '/handyrep/racelease/';
    const ctx = context(prefix);
    await ctx.client.put(ctx.keys.master).value(encodeMasterRecord({ name: 'john', term: '1', timeline: 1, promoted_lsn: null, sync_set: [], since: new Date().toISOString(), written_by: 'test' }));
    await putMember(ctx, 'paul', '0/3000000');
    const lease = ctx.client.lease(TTL, { autoKeepAlive: false });
    await lease.put(ctx.keys.masterLease('john')).value('{}');
    const paul = seat(ctx, 'paul', async () => true, () => 0);
    const never = await seat(ctx, 'paul', async () => true, () => 0).elector.attempt();
    assert.equal(never.kind, 'refused');
    const outcome = await paul.elector.attempt();
    assert.deepEqual(outcome.kind === 'refused' ? outcome.code : outcome.kind, 'master_lease_held');
    await lease.revoke();
    const after = await paul.elector.attempt();
    assert.equal(after.kind, 'won', 'once the lease is gone');
  });

  it('master_lease deleted by hand while its lease lives → nobody elects (lease_key_deleted); the lease ended → elected, also by an agent that never saw it (etcd\'s history); never held → lease_never_seen', async () => {
    const prefix = '/handyrep/racedeleted/';
    const ctx = context(prefix);
    const code = (o: ElectionOutcome): string => (o.kind === 'refused' ? o.code : o.kind);
    const setup = async (): Promise<void> => {
      await ctx.client.delete().prefix(prefix);
      await ctx.client.put(ctx.keys.master).value(encodeMasterRecord({ name: 'john', term: '1', timeline: 1, promoted_lsn: null, sync_set: [], since: new Date().toISOString(), written_by: 'test' }));
      await putMember(ctx, 'paul', '0/3000000');
    };
    await setup();
    const lease = ctx.client.lease(TTL, { autoKeepAlive: false });
    await lease.put(ctx.keys.masterLease('john')).value('{}');
    const paul = seat(ctx, 'paul', async () => true, () => 0);
    assert.equal(code(await paul.elector.attempt()), 'master_lease_held');
    await ctx.client.delete().key(ctx.keys.masterLease('john'));
    const deleted = await paul.elector.attempt();
    assert.equal(code(deleted), 'lease_key_deleted', paul.log.join(' | '));
    assert.match(paul.log.join(' | '), new RegExp(`lease_key_deleted: master_lease/john is gone but its lease lives \\(lease ${await lease.grant()} still lives\\)`));
    const fresh = seat(ctx, 'paul', async () => true, () => 0);
    assert.equal(code(await fresh.elector.attempt()), 'lease_key_deleted', `an agent that never saw it: the history shows the lease alive (${fresh.log.join(' | ')})`);
    await lease.revoke();
    const late = seat(ctx, 'paul', async () => true, () => 0);
    assert.equal(code(await late.elector.attempt()), 'won', `an agent started after the lapse elects on etcd's history (${late.log.join(' | ')})`);
    // The seen lease's end decides for the agent that saw it (a new record: the same john/term).
    await setup();
    const second = ctx.client.lease(TTL, { autoKeepAlive: false });
    await second.put(ctx.keys.masterLease('john')).value('{}');
    const seer = seat(ctx, 'paul', async () => true, () => 0);
    assert.equal(code(await seer.elector.attempt()), 'master_lease_held');
    await second.revoke();
    assert.equal(code(await seer.elector.attempt()), 'won', seer.log.join(' | '));
    // A stale seen id: seen under one lease, the master's agent re-took the key under a new one (not
    // observed), then the key was deleted by hand: the seen lease ended, the newer one lives.
    await setup();
    const first = ctx.client.lease(TTL, { autoKeepAlive: false });
    await first.put(ctx.keys.masterLease('john')).value('{}');
    const stale = seat(ctx, 'paul', async () => true, () => 0);
    assert.equal(code(await stale.elector.attempt()), 'master_lease_held');
    await first.revoke();
    const newer = ctx.client.lease(TTL, { autoKeepAlive: false });
    await newer.put(ctx.keys.masterLease('john')).value('{}');
    await ctx.client.delete().key(ctx.keys.masterLease('john'));
    assert.equal(code(await stale.elector.attempt()), 'lease_key_deleted', stale.log.join(' | '));
    await newer.revoke();
    assert.equal(code(await stale.elector.attempt()), 'won', stale.log.join(' | '));
    // Never held under this record: an agent's history read proves nothing.
    await setup();
    const never = seat(ctx, 'paul', async () => true, () => 0);
    assert.equal(code(await never.elector.attempt()), 'lease_never_seen');
    await ctx.client.delete().prefix(prefix);
  });

  it('a take applied but answered as failed (the client re-sent it) counts as won: the key is read back', async () => {
    const prefix = '/handyrep/raceretake/';
    const ctx = context(prefix);
    await ctx.client.put(ctx.keys.master).value(encodeMasterRecord({ name: 'john', term: '1', timeline: 1, promoted_lsn: null, sync_set: [], since: new Date().toISOString(), written_by: 'test' }));
    await putMember(ctx, 'paul', '0/3000000');
    const snapshot = await readElectionSnapshot(ctx, 2000);
    const leaseId = (await ctx.client.leaseClient.leaseGrant({ TTL })).ID;
    const record = { name: 'paul', term: snapshot.revision, timeline: null, promoted_lsn: null, sync_set: [], since: new Date().toISOString(), written_by: 'agent:paul' };
    const req = { node: 'paul', snapshot, judged: [{ name: 'paul', modRevision: snapshot.members[0]?.modRevision ?? '0' }], leaderMustBeAbsent: false, leaseId, record };
    const first = await takeMaster(ctx, req, 2000);
    const resent = await takeMaster(ctx, req, 2000);
    assert.equal(first.taken, true);
    assert.deepEqual(resent, first, 'the same take sent again reads back as ours, same revision');
    const otherLease = (await ctx.client.leaseClient.leaseGrant({ TTL })).ID;
    const other = await takeMaster(ctx, { ...req, leaseId: otherLease, record: { ...record, since: new Date(Date.now() + 1).toISOString() } }, 2000);
    assert.equal(other.taken, false, 'another take on the same snapshot is refused');
  });

  it('a confirmation that did not land is written on a later round (confirmAgain), with its history entry', async () => {
    const prefix = '/handyrep/raceconfirm/';
    const ctx = context(prefix);
    const paul = seat(ctx, 'paul', async () => true, () => 0);
    assert.equal(await paul.elector.confirmAgain(), false, 'nothing to confirm: no record of ours');
    const lease = ctx.client.lease(TTL, { autoKeepAlive: false });
    await lease.put(ctx.keys.masterLease('paul')).value('{}');
    await ctx.client.put(ctx.keys.master).value(encodeMasterRecord({ name: 'paul', term: '3', timeline: null, promoted_lsn: null, sync_set: [], since: new Date().toISOString(), written_by: 'agent:paul' }));
    assert.equal(await paul.elector.confirmAgain(), true);
    const record = parseMasterRecord(ctx.keys.master, (await ctx.client.get(ctx.keys.master).string()) ?? '');
    assert.deepEqual([record.timeline, record.promoted_lsn, record.term], [2, '0/9000000', '3']);
    const history = Object.values((await ctx.client.getAll().prefix(ctx.keys.historyPrefix).strings()) as Record<string, string>).map((v) => (JSON.parse(v) as { outcome: string; to: string }).outcome);
    assert.deepEqual(history, ['SUCCESS']);
    assert.equal(await paul.elector.confirmAgain(), false, 'confirmed once');
    await lease.revoke();
  });

  it('deployment ha: the agents elect only once no controller held leader for ttl, timed without gaps', async () => {
    const prefix = '/handyrep/raceha/';
    const ctx = context(prefix);
    await ctx.client.put(ctx.keys.master).value(encodeMasterRecord({ name: 'john', term: '1', timeline: 1, promoted_lsn: null, sync_set: [], since: new Date().toISOString(), written_by: 'test' }));
    await putMember(ctx, 'paul', '0/3000000');
    let clock = 0;
    const paul = seat(ctx, 'paul', async () => true, () => 0, 'ha', () => clock);
    const leader = ctx.client.lease(TTL, { autoKeepAlive: false });
    await leader.put(ctx.keys.leader).value('{}');
    const code = async (): Promise<string> => {
      const o = await paul.elector.attempt();
      return o.kind === 'refused' ? o.code : o.kind;
    };
    const johnLease = ctx.client.lease(TTL, { autoKeepAlive: false });
    await johnLease.put(ctx.keys.masterLease('john')).value('{}');
    assert.equal(await code(), 'controller_leads', 'a controller holds leader (john\'s master lease seen held meanwhile)');
    await johnLease.revoke();
    await leader.revoke();
    clock = 1000;
    assert.equal(await code(), 'controller_leads', 'leader absent since 1000 ms');
    clock = 60_000; // no observation for a minute: the absence is timed anew
    assert.equal(await code(), 'controller_leads');
    for (clock = 62_000; clock < 65_000; clock += 2000) assert.equal(await code(), 'controller_leads');
    clock = 65_000;
    assert.equal(await code(), 'won', 'absent for ttl (5 s) of continuous observation');
  });

  it('settings from the stored servers/* (an operator\'s nofailover) and timelines decide on real etcd, not the agents\' files or the LSN alone', async () => {
    const prefix = '/handyrep/racestored/';
    const ctx = context(prefix);
    const setup = async (timeline: number): Promise<[Seat, Seat]> => {
      await ctx.client.delete().prefix(prefix);
      await ctx.client.put(ctx.keys.master).value(encodeMasterRecord({ name: 'john', term: '1', timeline, promoted_lsn: null, sync_set: [], since: new Date().toISOString(), written_by: 'test' }));
      await putMember(ctx, 'paul', '0/3000000');
      await putMember(ctx, 'ringo', '0/2000000');
      const seats: [Seat, Seat] = [seat(context(prefix), 'paul', async () => true, () => 0), seat(context(prefix), 'ringo', async () => true, () => 0)];
      await leaseSeenThenExpired(ctx, seats);
      return seats;
    };
    const code = (o: ElectionOutcome): string => (o.kind === 'refused' ? o.code : o.kind);
    // The controller stored paul with nofailover (the agents' files say nothing of it).
    let [paul, ringo] = await setup(1);
    const definition = (extra: object): string => JSON.stringify({ hostname: 'h', role: 'replica', enabled: true, failover_priority: 999, nofailover: false, lag_limit: 100, ...extra });
    await ctx.client.put(ctx.keys.server('paul')).value(definition({ nofailover: true }));
    await ctx.client.put(ctx.keys.server('ringo')).value(definition({}));
    assert.equal(code(await paul.elector.attempt()), 'nofailover', paul.log.join(' | '));
    assert.match(paul.log.join(' | '), /server settings from the stored servers/);
    // A definition changed after the judgement fails the take (nofailover stored for the taker meanwhile).
    const judged = await readElectionSnapshot(ctx, 2000, true);
    await ctx.client.put(ctx.keys.server('ringo')).value(definition({ nofailover: true }));
    const leaseId = (await ctx.client.leaseClient.leaseGrant({ TTL })).ID;
    const take = { name: 'ringo', term: judged.revision, timeline: null, promoted_lsn: null, sync_set: [], since: new Date().toISOString(), written_by: 'agent:ringo' };
    const refusedTake = await takeMaster(ctx, { node: 'ringo', snapshot: judged, judged: judged.members.map((m) => ({ name: m.name, modRevision: m.modRevision })), leaderMustBeAbsent: false, leaseId, record: take }, 2000);
    assert.equal(refusedTake.taken, false, 'servers/* changed after the snapshot');
    await ctx.client.leaseClient.leaseRevoke({ ID: leaseId });
    await ctx.client.put(ctx.keys.server('ringo')).value(definition({}));
    assert.equal(code(await ringo.elector.attempt()), 'won', ringo.log.join(' | '));
    // The recorded master is on timeline 2; paul, ahead in LSN, still publishes timeline 1 (replicaFacts).
    [paul, ringo] = await setup(2);
    const ringoRecord = JSON.parse((await ctx.client.get(ctx.keys.member('ringo')).string()) ?? '{}') as object;
    await ctx.client.put(ctx.keys.member('ringo')).value(JSON.stringify({ ...ringoRecord, timeline: 2 }));
    assert.equal(code(await paul.elector.attempt()), 'timeline_behind', paul.log.join(' | '));
    assert.equal(code(await ringo.elector.attempt()), 'won', ringo.log.join(' | '));
    await ctx.client.delete().prefix(prefix);
  });

  it('deployment ha, synchronous_mode on, no controller: only the recorded sync member wins, its commits made to wait first; a set changed after the judgement fails the take', async () => {
    const prefix = '/handyrep/racesync/';
    const ctx = context(prefix);
    await ctx.client.put(ctx.keys.master).value(encodeMasterRecord({ name: 'john', term: '1', timeline: 1, promoted_lsn: null, sync_set: [], since: new Date().toISOString(), written_by: 'test' }));
    const head = (members: string[]): string => JSON.stringify({ format: 'handyrep-state', version: 1, updated_ms: Date.now(), status: {}, sync: { members, quorum: 1, master: 'john', at: new Date().toISOString(), reason: 'test' } });
    await ctx.client.put(ctx.keys.cluster).value(head(['paul']));
    await putMember(ctx, 'paul', '0/2000000');
    await putMember(ctx, 'ringo', '0/4000000'); // the async replica, further ahead in LSN terms
    let clock = 0;
    const mk = (name: string): Seat => seat(context(prefix), name, async () => true, () => 0, 'ha', () => clock, 'on');
    const [paul, ringo] = [mk('paul'), mk('ringo')];
    const lease = ctx.client.lease(TTL, { autoKeepAlive: false });
    await lease.put(ctx.keys.masterLease('john')).value('{}');
    for (const s of [paul, ringo]) await s.elector.attempt(); // each sees john's lease held
    await lease.revoke();
    const code = (o: ElectionOutcome): string => (o.kind === 'refused' ? o.code : o.kind);
    // No controller, observed without gaps, until longer than the ttl.
    for (clock = 2000; clock < 6000; clock += 2000) for (const s of [paul, ringo]) assert.equal(code(await s.elector.attempt()), 'controller_leads');
    clock = 6000;
    assert.equal(code(await ringo.elector.attempt()), 'not_sync_member', ringo.log.join(' | '));
    // A take judged on one recorded set fails once the set changed (a controller came and went).
    const judged = await readElectionSnapshot(ctx, 2000, true);
    assert.deepEqual(judged.cluster?.sync?.members, ['paul']);
    await ctx.client.put(ctx.keys.cluster).value(head(['ringo']));
    const leaseId = (await ctx.client.leaseClient.leaseGrant({ TTL })).ID;
    const record = { name: 'paul', term: judged.revision, timeline: null, promoted_lsn: null, sync_set: [], since: new Date().toISOString(), written_by: 'agent:paul' };
    const stale = await takeMaster(ctx, { node: 'paul', snapshot: judged, judged: judged.members.map((m) => ({ name: m.name, modRevision: m.modRevision })), leaderMustBeAbsent: true, clusterModRevision: judged.cluster?.modRevision ?? '0', leaseId, record }, 2000);
    assert.equal(stale.taken, false, 'the recorded set changed after the judgement');
    await ctx.client.leaseClient.leaseRevoke({ ID: leaseId });
    await ctx.client.put(ctx.keys.cluster).value(head(['paul']));
    assert.equal(code(await paul.elector.attempt()), 'won', paul.log.join(' | '));
    assert.deepEqual(paul.calls, ['took', 'sync', 'promote'], 'synchronous_standby_names set before the promotion');
    await ctx.client.delete().prefix(prefix);
  });

  it('the best candidate\'s promotion fails → it stands down and gives the key back; the next one wins', async () => {
    const prefix = '/handyrep/racefail/';
    const ctx = context(prefix);
    const before = encodeMasterRecord({ name: 'john', term: '1', timeline: 1, promoted_lsn: null, sync_set: [], since: new Date().toISOString(), written_by: 'test' });
    await ctx.client.put(ctx.keys.master).value(before);
    await putMember(ctx, 'paul', '0/3000000');
    await putMember(ctx, 'ringo', '0/2000000');
    const paul = seat(context(prefix), 'paul', async () => false, () => 0);
    const ringo = seat(context(prefix), 'ringo', async () => true, () => 0);
    await leaseSeenThenExpired(ctx, [paul, ringo]);
    const refused = await ringo.elector.attempt();
    assert.equal(refused.kind === 'refused' ? refused.code : refused.kind, 'not_best', 'paul is ahead');
    const failed = await paul.elector.attempt();
    assert.equal(failed.kind, 'promotion_failed');
    assert.deepEqual(paul.calls, ['took', 'promote', 'standDown'], 'watchdog armed (took) before promoting; stopped before giving back');
    assert.equal(await ctx.client.get(ctx.keys.master).string(), before, 'the key is given back as it was');
    assert.deepEqual(await ctx.client.getAll().prefix(ctx.keys.masterLeasePrefix).keys(), [], 'and paul\'s lease key is gone');
    const won = await ringo.elector.attempt();
    assert.equal(won.kind, 'won', ringo.log.join(' | '));
    assert.equal(parseMasterRecord(ctx.keys.master, (await ctx.client.get(ctx.keys.master).string()) ?? '').name, 'ringo');
    const history = (await ctx.client.getAll().prefix(ctx.keys.historyPrefix).strings()) as Record<string, string>;
    const outcomes = Object.values(history).map((v) => (JSON.parse(v) as { outcome: string; to: string | null }).outcome).sort();
    assert.deepEqual(outcomes, ['FAIL', 'SUCCESS']);
  });
});
