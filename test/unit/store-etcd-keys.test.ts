/**
 * The etcd key layout (design §9): every key under the prefix, and names that would escape their
 * folder or address a whole folder refused with an error naming them.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HandyRepError } from '../../src/model/errors.js';
import { defaultEtcdPrefix, etcdKeys } from '../../src/store/etcd/keys.js';

const keys = etcdKeys('/handyrep/main/');

describe('etcd key layout', () => {
  it('the default prefix is /handyrep/<cluster_name>/', () => {
    assert.equal(defaultEtcdPrefix('main'), '/handyrep/main/');
  });

  const rows: ReadonlyArray<[string, string, string]> = [
    ['leader', keys.leader, '/handyrep/main/leader'],
    ['master', keys.master, '/handyrep/main/master'],
    ['cluster', keys.cluster, '/handyrep/main/cluster'],
    ['journal', keys.journal, '/handyrep/main/journal'],
    ['config', keys.config, '/handyrep/main/config'],
    ['master_lease/<node>', keys.masterLease('john'), '/handyrep/main/master_lease/john'],
    ['members/<node>', keys.member('paul'), '/handyrep/main/members/paul'],
    ['servers/<name>', keys.server('george.2'), '/handyrep/main/servers/george.2'],
    ['history/<id>', keys.history('0b5c6a8e-1f7e-4f0e-9b8a-2d9d4c1e7a10'), '/handyrep/main/history/0b5c6a8e-1f7e-4f0e-9b8a-2d9d4c1e7a10'],
    ['controllers/<id>', keys.controller('c1'), '/handyrep/main/controllers/c1'],
    ['controller_history/<id>', keys.controllerHistory('00000000000000000042'), '/handyrep/main/controller_history/00000000000000000042'],
    ['commands/<node>/<id>', keys.command('ringo', 'x-1'), '/handyrep/main/commands/ringo/x-1'],
    ['commands/<node>/ folder', keys.commandsOf('ringo'), '/handyrep/main/commands/ringo/'],
    ['servers folder', keys.serversPrefix, '/handyrep/main/servers/'],
    ['history folder', keys.historyPrefix, '/handyrep/main/history/'],
  ];
  for (const [what, actual, expected] of rows) {
    it(`${what} → ${expected}`, () => assert.equal(actual, expected));
  }

  it('nameUnder reads a name back from its key, and nothing from a deeper or foreign key', () => {
    assert.equal(keys.nameUnder(keys.serversPrefix, '/handyrep/main/servers/john'), 'john');
    assert.equal(keys.nameUnder(keys.serversPrefix, '/handyrep/main/servers/john/x'), null);
    assert.equal(keys.nameUnder(keys.serversPrefix, '/handyrep/other/servers/john'), null);
  });

  const badNames: ReadonlyArray<[string, () => string, RegExp]> = [
    ['a node name with /', () => keys.member('a/b'), /node name "a\/b" is not valid/],
    ['a server name ..', () => keys.server('..'), /server name "\.\." is not valid/],
    ['an empty server name', () => keys.server(''), /server name "" is not valid/],
    ['a node name with a space', () => keys.masterLease('jo hn'), /node name "jo hn"/],
    ['a command id with a newline', () => keys.command('john', 'a\nb'), /command id "a\\nb"/],
    ['a history id starting with -', () => keys.history('-x'), /history id "-x"/],
    ['a 64-character name', () => keys.server('a'.repeat(64)), /server name/],
    ['a cluster name with /', () => defaultEtcdPrefix('a/b'), /cluster name "a\/b"/],
  ];
  for (const [what, call, message] of badNames) {
    it(`refused: ${what}`, () => {
      assert.throws(call, (err: unknown) => err instanceof HandyRepError && err.code === 'INVALID_PARAMETER' && message.test(err.message));
    });
  }

  it('a prefix that is not /…/ is refused', () => {
    assert.throws(() => etcdKeys('/handyrep/main'), /etcd prefix "\/handyrep\/main" must start and end with/);
    assert.throws(() => etcdKeys('handyrep/'), /must start and end with/);
  });
});
