/**
 * The demo's pure parts: where PostgreSQL's data goes (a folder its OS user can enter), the
 * configuration it writes (valid for the schema), and the status-change lines it prints.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parse } from 'yaml';
import { configSchema } from '../../src/config/schema.js';
import { demoCluster, nodeSettings } from '../../src/demo/demo-cluster.js';
import { demoConfigText } from '../../src/demo/demo-config.js';
import { canTraverse, chooseNodeRoot, demoSlug, type DirInfo, type PgAccount } from '../../src/demo/demo-location.js';
import { statusChanges, type WatchSnapshot } from '../../src/demo/demo-watch.js';

const postgres: PgAccount = { name: 'postgres', uid: 101, gid: 104, home: '/var/lib/postgresql' };

function dir(path: string, mode: number, uid = 0, gid = 0): DirInfo {
  return { path, uid, gid, mode };
}

/** A fake file system: the folders that exist, by path. */
function probeOf(existing: DirInfo[]): (path: string) => DirInfo[] {
  const byPath = new Map(existing.map((d) => [d.path, d]));
  return (path) => {
    const parts = path.split('/').filter((p) => p !== '');
    const chain: DirInfo[] = [];
    const root = byPath.get('/');
    if (root) chain.push(root);
    let current = '';
    for (const part of parts) {
      current += `/${part}`;
      const found = byPath.get(current);
      if (!found) break;
      chain.push(found);
    }
    return chain;
  };
}

test('search permission by owner, group, others; root passes everywhere', () => {
  assert.equal(canTraverse(dir('/root', 0o700), postgres), false);
  assert.equal(canTraverse(dir('/work', 0o755), postgres), true);
  assert.equal(canTraverse(dir('/srv', 0o750, 0, 104), postgres), true, 'group postgres');
  assert.equal(canTraverse(dir('/srv', 0o705, 0, 104), postgres), false, 'the group class decides for a group member');
  assert.equal(canTraverse(dir('/home/pg', 0o700, 101, 104), postgres), true, 'owner');
  assert.equal(canTraverse(dir('/root', 0o700), { uid: 0, gid: 0 }), true);
});

test('root: the demo folder when postgres can reach it; else under postgres\'s home, saying why', () => {
  const fs = [dir('/', 0o755), dir('/work', 0o755), dir('/work/main', 0o755), dir('/root', 0o700), dir('/var', 0o755), dir('/var/lib', 0o755), dir('/var/lib/postgresql', 0o755, 101, 104), dir('/tmp', 0o1777), dir('/tmp/t-1', 0o700)];
  const probe = probeOf(fs);
  assert.deepEqual(chooseNodeRoot('/work/main/.handyrep-demo', postgres, 0, probe), { nodeRoot: '/work/main/.handyrep-demo', moved: null });
  const inRoot = chooseNodeRoot('/root/handyrep/.handyrep-demo', postgres, 0, probe);
  assert.equal(inRoot.nodeRoot, `/var/lib/postgresql/handyrep-demo/${demoSlug('/root/handyrep/.handyrep-demo')}`);
  assert.match(inRoot.moved ?? '', /PostgreSQL runs as postgres, which cannot enter \/root \(mode 0700/);
  const mkdtemp = chooseNodeRoot('/tmp/t-1', postgres, 0, probe);
  assert.match(mkdtemp.nodeRoot, /^\/var\/lib\/postgresql\/handyrep-demo\/t-1-[0-9a-f]{8}$/);
  assert.notEqual(demoSlug('/a/x'), demoSlug('/b/x'), 'one folder per demo folder');
  const noHome = chooseNodeRoot('/root/d', { ...postgres, home: '/nonexistent/pg' }, 0, probeOf([...fs, dir('/var/tmp', 0o1777)]));
  assert.match(noHome.nodeRoot, /^\/var\/tmp\/handyrep-demo\/d-[0-9a-f]{8}$/, 'no home: /var/tmp');
});

test('a normal user: the demo folder unless its path does not suit (spaces, socket length)', () => {
  const probe = probeOf([dir('/', 0o755), dir('/home', 0o755), dir('/home/ann', 0o700, 1000, 1000)]);
  assert.deepEqual(chooseNodeRoot('/home/ann/hr/.handyrep-demo', null, 1000, probe), { nodeRoot: '/home/ann/hr/.handyrep-demo', moved: null });
  const spaces = chooseNodeRoot('/home/ann/My Projects/.handyrep-demo', null, 1000, probe);
  assert.match(spaces.nodeRoot, /^\/tmp\/handyrep-demo-1000\/handyrep-demo-[0-9a-f]{8}$/);
  assert.match(spaces.moved ?? '', /characters a configuration path may not have/);
  const trap = chooseNodeRoot('/home/ann/My Projects/x', null, 1000, probeOf([dir('/', 0o755), dir('/tmp', 0o1777), dir('/tmp/handyrep-demo-1000', 0o755, 666, 666), dir('/var', 0o755), dir('/var/tmp', 0o1777)]));
  assert.match(trap.nodeRoot, /^\/var\/tmp\/handyrep-demo-1000\//, 'a folder someone else made in /tmp is not used');
  const long = chooseNodeRoot(`/home/ann/${'x'.repeat(90)}`, null, 1000, probe);
  assert.match(long.moved ?? '', /too long for a PostgreSQL Unix socket/);
});

test('the demo configuration is valid: local control as PostgreSQL\'s user, automatic failover with auto_rejoin, quick detection', () => {
  const cluster = demoCluster('/var/lib/postgresql/handyrep-demo/x-12345678', '/usr/lib/postgresql/15/bin', 'postgres');
  const config = configSchema.parse(parse(demoConfigText(cluster, { admin: 'adminpw', read: 'readpw' }, 8080)));
  assert.equal(config.failover.auto_failover, true);
  assert.equal(config.failover.auto_rejoin, true);
  assert.equal(config.failover.poll_interval, 1);
  assert.equal(config.server_defaults.control_method, 'local');
  assert.equal(config.server_defaults.local_user, 'postgres');
  assert.equal(config.handyrep.authentication_method, 'simple_password_auth');
  assert.deepEqual(Object.entries(config.servers).map(([n, s]) => [n, s.hostname, s.role, s.pgdata]), [
    ['john', '127.0.0.11', 'master', '/var/lib/postgresql/handyrep-demo/x-12345678/john/data'],
    ['paul', '127.0.0.12', 'replica', '/var/lib/postgresql/handyrep-demo/x-12345678/paul/data'],
    ['george', '127.0.0.13', 'replica', '/var/lib/postgresql/handyrep-demo/x-12345678/george/data'],
  ]);
  const settings = nodeSettings(cluster.nodes[1] as (typeof cluster.nodes)[number]);
  assert.match(settings, /listen_addresses = '127\.0\.0\.12'/);
  assert.match(settings, /wal_log_hints = on/);
});

test('status-change lines: roles, statuses and the cluster, only what changed', () => {
  const snap = (john: [string, string], paul: [string, string], cluster: string): WatchSnapshot => ({
    cluster: { status: cluster, status_message: `cluster ${cluster}` },
    servers: {
      john: { role: john[0], enabled: true, status: john[1], status_message: `john ${john[1]}` },
      paul: { role: paul[0], enabled: true, status: paul[1], status_message: `paul ${paul[1]}` },
    },
  });
  const first = snap(['master', 'healthy'], ['replica', 'healthy'], 'healthy');
  assert.deepEqual(statusChanges(null, first), ['john (master): healthy: john healthy', 'paul (replica): healthy: paul healthy', 'cluster: healthy: cluster healthy']);
  assert.deepEqual(statusChanges(first, first), []);
  const down = snap(['master', 'down'], ['replica', 'healthy'], 'down');
  assert.deepEqual(statusChanges(first, down), ['john (master): healthy → down: john down', 'cluster: healthy → down: cluster down']);
  const promoted = snap(['replica', 'down'], ['master', 'healthy'], 'warning');
  assert.deepEqual(statusChanges(down, promoted), ['john: master → replica', 'paul: replica → master', 'cluster: down → warning: cluster warning']);
});
