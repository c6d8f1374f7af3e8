/**
 * Issue 14 (boot review F7) on real PostgreSQL: the delete and the rename of a data folder refuse in
 * their own shell step while PostgreSQL runs on it (src/runtime/clone/folder-guard.ts).
 *   - cloneFromMaster (the agent's reclone, moving aside and deleting): PostgreSQL started on the
 *     folder after the copy's last check (the checks' port blind from the master's CHECKPOINT on, the
 *     start injected there): refused postgres_running, "Nothing changed", PostgreSQL still answers,
 *     its data in place, no marker, nothing moved aside;
 *   - the same steps run by the controller over real ssh as the postgres user: refused, naming the
 *     postmaster of the folder's postmaster.pid;
 *   - the controller's clone of a replica whose folder a process works in (a shell of the postgres
 *     user: not PostgreSQL, so the controller's own checks let it pass): stopped, then the delete
 *     refused, the data in place, no clean-up attempted under it.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { cloneFromMaster } from '../../src/agent/boot-clone.js';
import { agentNodeEnv } from '../../src/agent/agent-plugin-context.js';
import type { CopyCheckPort } from '../../src/agent/copy-checks.js';
import { copyMarkerFile } from '../../src/agent/copy-marker.js';
import { parseConfig } from '../../src/config/load.js';
import { SshShell } from '../../src/nodes/ssh-shell.js';
import { PluginRegistry } from '../../src/plugins/registry.js';
import type { PluginContext, ServerRef } from '../../src/plugins/types.js';
import { FolderBusyError } from '../../src/runtime/clone/folder-guard.js';
import { emptyFolder, moveFolderAside, type NodeEnv } from '../../src/runtime/clone/target-node.js';
import { HandyRep } from '../../src/api/handyrep.js';
import { startCluster, type TestCluster, type TestNode } from '../fixtures/cluster.js';
import { postgresUser } from '../fixtures/exec.js';
import { writeConfigWithout } from './clone-helpers.js';

const MB = 1048576;
/** Checks that see nothing: the PostgreSQL below starts right after them. */
const blind: CopyCheckPort = { postmaster: () => null, processIn: () => null, freeBytes: async () => 10_000 * MB, dataBytes: async () => 0 };

describe('the guarded delete and rename on real PostgreSQL', { timeout: 180_000 }, () => {
  let cluster: TestCluster;
  let john: TestNode;
  let ssh: SshShell | null = null;
  let hr: HandyRep | null = null;
  let shellInFolder: ChildProcess | null = null;

  before(async () => {
    cluster = await startCluster({ nodes: 2 });
    john = cluster.master;
  });
  after(async () => {
    shellInFolder?.kill('SIGKILL');
    await ssh?.close();
    await hr?.close();
    await cluster?.stop();
  });

  const systemIdentifier = (): string => {
    const text = execFileSync(`${cluster.pgBinDir}/pg_controldata`, ['-D', john.dataDir], { encoding: 'utf8', env: { ...process.env, LC_ALL: 'C' } });
    return /Database system identifier:\s+(\d+)/.exec(text)?.[1] ?? 'none';
  };
  const intact = async (): Promise<void> => {
    assert.equal(await cluster.psql(john, 'SELECT 1'), '1', 'PostgreSQL still answers');
    assert.equal(existsSync(`${john.dataDir}/PG_VERSION`), true);
    assert.equal(existsSync(`${john.dataDir}/global/pg_control`), true);
    assert.deepEqual(readdirSync(dirname(john.dataDir)).filter((e) => e.includes('.handyrep-old-')), []);
  };

  for (const deleteOldData of [false, true]) {
    it(`the agent's reclone ${deleteOldData ? 'deleting' : 'moving aside'} the data, PostgreSQL started after the last check: refused, nothing changed`, async () => {
      await john.stop('fast');
      const sysid = systemIdentifier();
      // The node is recloned from "src" (nothing listens on port 1: a copy program that ran would fail).
      const config = parseConfig(
        `servers: {src: {hostname: 127.0.0.1, port: 1, role: master}, john: {hostname: ${john.host}, port: ${john.port}, pgdata: ${john.dataDir}, pg_bin_dir: ${cluster.pgBinDir}}}`,
        'test',
      );
      // After the checks before the master is asked; the check after the CHECKPOINT sees nothing (blind).
      const prepareMaster = async () => {
        await john.start();
        return { databaseBytes: MB, systemIdentifier: sysid };
      };
      const result = await cloneFromMaster(agentNodeEnv(config, () => undefined), config, 'john', 'src', true, undefined, { deleteOldData, ports: { checks: blind, prepareMaster } });
      const pid = john.postmasterPid();
      assert.notEqual(pid, null);
      assert.equal(result.ok, false);
      assert.equal(result.touched, false);
      assert.equal(result.details, `not cloned: PostgreSQL runs on john (postmaster ${pid}); stop it first. Nothing changed on john (reason postgres_running)`);
      assert.equal(existsSync(copyMarkerFile(john.dataDir, 'john')), false);
      await intact();
    });
  }

  it('the controller\'s steps over ssh (as postgres): refused, naming the postmaster of postmaster.pid', async () => {
    await john.start();
    const shell = new SshShell({ host: john.host, port: john.sshPort, user: 'postgres', privateKeyPath: cluster.sshKeyPath, connectTimeoutMs: 5000, hostKeyChecking: 'strict', knownHostsPath: cluster.knownHostsPath });
    ssh = shell;
    const env: NodeEnv = { ctx: { shellFor: () => shell } as unknown as PluginContext, plugins: new PluginRegistry() };
    const server = { name: 'john', pgdata: john.dataDir } as ServerRef;
    const pid = john.postmasterPid();
    const refused = (err: unknown): boolean => err instanceof FolderBusyError && err.busy.pid === pid && err.busy.pidFile;
    await assert.rejects(emptyFolder(env, server), refused);
    await assert.rejects(moveFolderAside(env, server, '20261205T000000Z'), refused);
    await intact();
  });

  it('the controller\'s clone of a replica a process works in: stopped, then refused by the delete\'s guard, the data in place', async () => {
    const paul = cluster.nodes[1] as TestNode;
    hr = await HandyRep.open(writeConfigWithout(cluster, []));
    await hr.init_handyrep_db();
    assert.equal((await hr.verify_all()).result, 'SUCCESS');
    const user = postgresUser();
    const child = spawn('sleep', ['60'], { cwd: paul.dataDir, uid: user.uid, gid: user.gid, stdio: 'ignore' });
    shellInFolder = child;
    const rd = await hr.clone('paul', true);
    assert.equal(rd.result, 'FAIL', rd.details);
    assert.match(rd.details, new RegExp(`${paul.dataDir} not emptied: process ${child.pid} works in it; nothing deleted or moved \\(reason postgres_running\\)`));
    assert.doesNotMatch(rd.details, /partial copy/, 'no clean-up of the folder: it holds the node\'s own data');
    assert.equal(paul.postmasterPid(), null, 'stopped by the clone');
    assert.equal(existsSync(`${paul.dataDir}/PG_VERSION`), true);
    assert.equal(existsSync(`${paul.dataDir}/global/pg_control`), true);
    assert.equal(existsSync(`${paul.dataDir}/postgresql.conf`), true);
  });
});
