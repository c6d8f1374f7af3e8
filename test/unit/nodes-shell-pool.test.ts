/** How shells are chosen and planned: path resolution, the pool's cache, local invocation plans. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HandyRepError } from '../../src/model/errors.js';
import { LocalShell, planLocalInvocation } from '../../src/nodes/local-shell.js';
import { NodeShellPool, type ShellServer, type ShellSettings } from '../../src/nodes/node-shells.js';
import { SshShell } from '../../src/nodes/ssh-shell.js';

const server: ShellServer = {
  name: 'node1',
  hostname: '127.0.2.11',
  control_method: 'ssh',
  ssh_user: 'postgres',
  ssh_port: 2222,
  ssh_key: '~/.ssh/id_ed25519',
  local_user: 'postgres',
};
const settings: ShellSettings = {
  connectTimeoutMs: 3000,
  hostKeyChecking: 'accept-new',
  knownHostsPath: 'known_hosts',
  configDir: '/etc/handyrep',
};

describe('NodeShellPool', () => {
  it('caches a shell per server and replaces it when connection settings change', async () => {
    const pool = new NodeShellPool();
    const first = pool.shellFor(server, settings);
    assert.ok(first instanceof SshShell);
    assert.equal(first.description, 'ssh postgres@127.0.2.11:2222');
    assert.equal(pool.shellFor({ ...server }, { ...settings }), first);
    // A setting that does not shape the connection keeps the shell.
    assert.equal(pool.shellFor({ ...server, local_user: 'other' }, settings), first);
    const moved = pool.shellFor({ ...server, ssh_port: 22 }, settings);
    assert.notEqual(moved, first);
    assert.notEqual(pool.shellFor({ ...server, ssh_port: 22 }, { ...settings, hostKeyChecking: 'strict' }), moved);
    const local = pool.shellFor({ ...server, name: 'node2', control_method: 'local' }, settings);
    assert.ok(local instanceof LocalShell);
    assert.equal(local.description, 'local (postgres)');
    await pool.closeAll();
    assert.notEqual(pool.shellFor(server, settings), first);
    await pool.closeAll();
  });
});

describe('planLocalInvocation', () => {
  const base = { PATH: '/usr/bin:/bin', LANG: 'C.UTF-8', SECRET_OF_CONTROLLER: 'x' };
  const postgres = { name: 'postgres', uid: 101, gid: 104, home: '/var/lib/postgresql', shell: '/bin/bash' };

  it('runs directly when no user switch is needed', () => {
    const spec = planLocalInvocation(['pg_ctl', 'status'], {
      runAsUser: 'postgres',
      current: { name: 'postgres', uid: 101 },
      target: undefined,
      baseEnv: base,
      extraEnv: { PGPASSWORD: 'p' },
    });
    assert.equal(spec.file, 'pg_ctl');
    assert.deepEqual(spec.args, ['status']);
    assert.equal(spec.uid, undefined);
    assert.equal(spec.env.PGPASSWORD, 'p');
    assert.equal(spec.env.SECRET_OF_CONTROLLER, 'x');
  });

  it('as root, switches uid/gid, sets HOME/USER/LOGNAME and drops the controller environment', () => {
    const spec = planLocalInvocation(['id', '-un'], {
      runAsUser: 'postgres',
      current: { name: 'root', uid: 0 },
      target: postgres,
      targetCwd: '/var/lib/postgresql',
      baseEnv: base,
      extraEnv: { PGPASSWORD: 'p' },
    });
    assert.equal(spec.file, 'id');
    assert.equal(spec.uid, 101);
    assert.equal(spec.gid, 104);
    assert.equal(spec.cwd, '/var/lib/postgresql');
    assert.deepEqual(spec.env, {
      PATH: '/usr/bin:/bin',
      LANG: 'C.UTF-8',
      HOME: '/var/lib/postgresql',
      USER: 'postgres',
      LOGNAME: 'postgres',
      PGPASSWORD: 'p',
    });
  });

  it('as root, refuses an unknown user with CONTROL_CHANNEL', () => {
    assert.throws(
      () =>
        planLocalInvocation(['true'], {
          runAsUser: 'nobody-here',
          current: { name: 'root', uid: 0 },
          target: undefined,
          baseEnv: base,
          extraEnv: undefined,
        }),
      (err: unknown) => err instanceof HandyRepError && err.code === 'CONTROL_CHANNEL',
    );
  });

  it('as another user, goes through sudo -n and passes variables by name only', () => {
    const spec = planLocalInvocation(['psql', '-c', 'select 1'], {
      runAsUser: 'postgres',
      current: { name: 'handyrep', uid: 1000 },
      target: undefined,
      baseEnv: base,
      extraEnv: { PGPASSWORD: 'p' },
    });
    assert.equal(spec.file, 'sudo');
    assert.deepEqual(spec.args, ['-n', '-H', '-u', 'postgres', '--preserve-env=PGPASSWORD', '--', 'psql', '-c', 'select 1']);
    assert.equal(spec.env.PGPASSWORD, 'p');
    assert.equal(spec.termBeforeKill, true);
    assert.ok(!spec.args.includes('p'));
  });

  it('refuses an empty argv', () => {
    assert.throws(
      () => planLocalInvocation([], { runAsUser: undefined, current: { name: 'a', uid: 1 }, target: undefined, baseEnv: {}, extraEnv: undefined }),
      (err: unknown) => err instanceof HandyRepError && err.code === 'INVALID_PARAMETER',
    );
  });
});
