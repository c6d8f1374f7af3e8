import { test } from 'node:test';
import assert from 'node:assert/strict';
import { configSchema } from '../../src/config/schema.js';
import { validateSavedServers } from '../../src/engine/saved-servers.js';

const defaults = configSchema.parse({}).server_defaults;
const NOW = '2026-01-01T00:00:00.000Z';
const master = { hostname: '127.0.0.11', role: 'master', enabled: true };
const replica = { hostname: 'db2.example.com', role: 'replica', enabled: true };

/** The rejection reason of one record next to a valid master, or 'accepted'. */
function verdict(record: unknown, name = 'paul'): string {
  const checked = validateSavedServers({ john: master, [name]: record }, defaults, NOW);
  return checked.rejected.find((r) => r.name === name)?.reason ?? (checked.servers[name] ? 'accepted' : 'missing');
}

test('each saved record is checked with the configuration schema, row by row', () => {
  const rows: [string, unknown, RegExp][] = [
    ['plain replica', replica, /^accepted$/],
    ['IPv6 hostname', { ...replica, hostname: '::1' }, /^accepted$/],
    ['all settings', { ...replica, port: 5433, pgdata: '/srv/pg/data', control_method: 'local', ssh_user: 'pg', failover_priority: 2 }, /^accepted$/],
    ['hostname with a command', { ...replica, hostname: '127.0.0.1;reboot' }, /^hostname: must be a hostname/],
    ['hostname as an ssh option', { ...replica, hostname: '-oProxyCommand=x' }, /^hostname: must be a hostname/],
    ['hostname not a string', { ...replica, hostname: 7 }, /^hostname: /],
    ['pgdata with a substitution', { ...replica, pgdata: '/data/$(id)' }, /^pgdata: must be a path/],
    ['pg_bin_dir with a space', { ...replica, pg_bin_dir: '/usr/bin /tmp' }, /^pg_bin_dir: must be a path/],
    ['pg_bin_dir going up', { ...replica, pg_bin_dir: '../x' }, /^pg_bin_dir: must not contain "\.\." components/],
    ['pgdata as an option', { ...replica, pgdata: '-D/tmp/x' }, /^pgdata: must not start with "-"/],
    ['ssh_key with %', { ...replica, ssh_key: '/keys/%u' }, /^ssh_key: must be a path/],
    ['ssh_key with a quote', { ...replica, ssh_key: "/k'ey" }, /^ssh_key: must be a path/],
    ['unknown control method', { ...replica, control_method: 'telnet' }, /^control_method: /],
    ['role with a space', { ...replica, role: 'rep lica' }, /^role: must be 1-63/],
    ['ssh_user with a shell character', { ...replica, ssh_user: 'pg;id' }, /^ssh_user: must be 1-63/],
    ['restart plugin name with a slash', { ...replica, restart_method: '../evil' }, /^restart_method: must be 1-63/],
    ['port out of range', { ...replica, port: 70000 }, /^port: /],
    ['enabled not a boolean', { ...replica, enabled: 'yes' }, /^enabled: /],
    ['no hostname', { role: 'replica', enabled: true }, /^missing hostname$/],
    ['no role, no enabled', { hostname: 'h' }, /^missing role, enabled$/],
    ['not a mapping', 'paul', /^not a mapping/],
    ['null', null, /^not a mapping/],
    ['fenced not a boolean', { ...replica, fenced: 'no' }, /^fenced: /],
    ['fence_unconfirmed not a boolean', { ...replica, fenced: true, fence_unconfirmed: 'yes' }, /^fence_unconfirmed: /],
  ];
  for (const [what, record, expected] of rows) assert.match(verdict(record), expected, what);
  assert.match(verdict(replica, 'pa ul'), /is not a valid server name/, 'server name');
  assert.match(verdict(replica, '$(x)'), /is not a valid server name/, 'server name');
});

test('an accepted record is completed from the defaults; unknown keys are dropped; malformed facts and statuses are reset', () => {
  const checked = validateSavedServers(
    {
      john: { ...master, status: 'healthy', status_no: 99, status_ts: 't1', status_message: 'ok', lag_bytes: 5, wal_position: '0/3000060', fenced: true, extra: 'x' },
      paul: { ...replica, status: 'exploded', status_ts: 't', status_message: 'm', lag_bytes: '5', timeline: null, wal_position: '$(id)', action: 'wipe' },
    },
    defaults,
    NOW,
  );
  assert.deepEqual(checked.rejected, []);
  assert.equal(checked.unusable, null);
  const john = checked.servers.john;
  const paul = checked.servers.paul;
  assert.ok(john && paul);
  assert.equal(john.pgdata, defaults.pgdata, 'missing settings from server_defaults');
  assert.deepEqual([john.status, john.status_no, john.status_ts], ['healthy', 1, 't1'], 'status_no recomputed');
  assert.deepEqual([john.lag_bytes, john.wal_position, john.fenced], [5, '0/3000060', true]);
  assert.equal(Object.hasOwn(john, 'extra'), false);
  assert.equal(john.fence_unconfirmed, undefined, 'absent unless saved true');
  assert.deepEqual([paul.status, paul.status_no, paul.status_ts], ['unknown', 0, NOW]);
  assert.deepEqual([paul.lag_bytes, paul.timeline, paul.wal_position, paul.action, paul.fenced], [null, null, null, null, false]);
});

test('an unconfirmed fence survives a restart (the cluster stays in warning until it is confirmed)', () => {
  const checked = validateSavedServers({ john: { ...replica, enabled: false, fenced: true, fence_unconfirmed: true }, paul: master }, defaults, NOW);
  assert.equal(checked.servers.john?.fence_unconfirmed, true);
});

test('a state is unusable when nothing valid is left or its master record is rejected', () => {
  const rows: [string, unknown, string | null][] = [
    ['all valid', { john: master, paul: replica }, null],
    ['a replica rejected', { john: master, paul: { ...replica, hostname: 'a b' } }, null],
    ['the master rejected', { john: { ...master, pgdata: 'x y' }, paul: replica }, 'its master record john is invalid'],
    ['nothing valid', { john: { ...master, hostname: '' } }, 'none of its 1 server records is valid'],
    ['no records', {}, 'it holds no server records'],
    ['an array', [master], 'it holds no mapping of server records'],
    ['null', null, 'it holds no mapping of server records'],
  ];
  for (const [what, servers, unusable] of rows) assert.equal(validateSavedServers(servers, defaults, NOW).unusable, unusable, what);
});
