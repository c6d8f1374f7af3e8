/**
 * postgresql.auto.conf quoting, row by row: the conninfo layer (libpq: `\'` and `\\` inside
 * quotes) wrapped in the configuration-file layer (`''` and `\\`). The integration test
 * security-conninfo proves the same values against a real server and a streaming replica.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HandyRepError } from '../../src/model/errors.js';
import { confLines, confValue, conninfoString, conninfoValue } from '../../src/nodes/pg-conf-quote.js';

describe('conninfoValue: libpq quoting', () => {
  const rows: ReadonlyArray<[string, string]> = [
    ['plain', "'plain'"],
    ["it's", "'it\\'s'"],
    ['back\\slash', "'back\\\\slash'"],
    ['with space', "'with space'"],
    ['a=b#c', "'a=b#c'"],
    ['', "''"],
    ['ünï©ødé', "'ünï©ødé'"],
    ["\\'", "'\\\\\\''"],
  ];
  for (const [input, expected] of rows) {
    it(`${JSON.stringify(input)} → ${expected}`, () => assert.equal(conninfoValue(input), expected));
  }
});

describe('confValue: configuration-file quoting', () => {
  const rows: ReadonlyArray<[string, string]> = [
    ['plain', "'plain'"],
    ["it's", "'it''s'"],
    ['back\\slash', "'back\\\\slash'"],
    ["password='x\\'y'", "'password=''x\\\\''y'''"],
    ['a # not a comment', "'a # not a comment'"],
  ];
  for (const [input, expected] of rows) {
    it(`${JSON.stringify(input)} → ${expected}`, () => assert.equal(confValue('restore_command', input), expected));
  }
});

describe('control characters are refused, naming the setting', () => {
  for (const bad of ['line\nbreak', 'cr\r', 'tab\there', 'nul\u0000', 'del\u007f', 'esc\u001b[0m']) {
    it(`conf value ${JSON.stringify(bad)}`, () => {
      assert.throws(() => confValue('restore_command', bad), (err: unknown) => err instanceof HandyRepError && /^restore_command contains a control character \(U\+00[0-9A-F]{2}/.test(err.message));
    });
    it(`conninfo value ${JSON.stringify(bad)}`, () => {
      assert.throws(
        () => conninfoString([{ key: 'password', value: bad, setting: 'passwords.replication_pass' }]),
        /passwords\.replication_pass contains a control character/,
      );
    });
  }
  it('a newline cannot inject a setting', () => {
    assert.throws(() => confLines({ primary_conninfo: "x'\nrestore_command = 'touch /tmp/p" }), /primary_conninfo contains a control character \(U\+000A/);
  });
});

describe('the two layers together', () => {
  it('a password with every awkward character gives one line, one setting', () => {
    const conninfo = conninfoString([
      { key: 'host', value: '10.0.0.1', setting: 'h' },
      { key: 'password', value: "p'a\\s s#=ü", setting: 'p' },
    ]);
    assert.equal(conninfo, "host='10.0.0.1' password='p\\'a\\\\s s#=ü'");
    assert.equal(confLines({ primary_conninfo: conninfo }), "primary_conninfo = 'host=''10.0.0.1'' password=''p\\\\''a\\\\\\\\s s#=ü'''\n");
  });
});
