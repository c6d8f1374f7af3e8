/**
 * Quoting is proven against real shells: whatever the argument, `sh -c quoteCommand([...])` must
 * hand the program exactly that string. The shells are started with execFile (no shell on our side).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { HandyRepError } from '../../src/model/errors.js';
import { quoteArg, quoteCommand } from '../../src/nodes/shell-quote.js';

const run = promisify(execFile);

/** Every control character and Latin-1 character except NUL. */
const ALL_CHARS = Array.from({ length: 255 }, (_, i) => String.fromCharCode(i + 1)).join('');

const NASTY: ReadonlyArray<[string, string]> = [
  ['command separator', '; rm -rf /'],
  ['command substitution', '$(id)'],
  ['backticks', '`id`'],
  ['single quote', "it's"],
  ['only single quotes', "'''"],
  ['double quotes', '"quoted" "$HOME"'],
  ['mixed quotes', `'"'"'`],
  ['newlines', 'line1\nline2\n'],
  ['carriage return and tab', 'a\r\tb'],
  ['glob star', '*'],
  ['glob pattern', '/et?/pass*'],
  ['tilde', '~'],
  ['tilde path', '~root/x'],
  ['and-and', 'true && echo pwned'],
  ['pipe', 'a | cat'],
  ['redirections', '> /tmp/x < /etc/passwd 2>&1'],
  ['background', 'sleep 1 &'],
  ['variables', '$HOME ${PATH} $1 $@ $$'],
  ['arithmetic', '$((1+2))'],
  ['history bang', '!!'],
  ['braces', '{a,b}'],
  ['backslashes', '\\\\n\\'],
  ['hash comment', '# not a comment'],
  ['assignment-looking', 'FOO=bar'],
  ['reserved word', 'if'],
  ['unicode', 'héllo wörld – 日本語 🐘'],
  ['empty string', ''],
  ['only spaces', '   '],
  ['leading dash', '-n'],
  ['double dash option', '--help'],
  ['percent format', '%s%d%%'],
  ['all bytes but NUL', ALL_CHARS],
];

describe('shell-quote', () => {
  for (const shell of ['/bin/sh', '/bin/bash']) {
    describe(`through ${shell} -c`, () => {
      for (const [label, value] of NASTY) {
        it(`round-trips ${label}`, async () => {
          const { stdout } = await run(shell, ['-c', quoteCommand(['printf', '%s', value])], { encoding: 'utf8' });
          assert.equal(stdout, value);
        });
      }

      it('keeps many arguments apart', async () => {
        const values = NASTY.map(([, value]) => value);
        const { stdout } = await run(shell, ['-c', quoteCommand(['printf', '%s\\0', ...values])], { encoding: 'utf8' });
        assert.deepEqual(stdout.split('\0').slice(0, -1), values);
      });
    });
  }

  it('leaves plain words readable', () => {
    assert.equal(quoteCommand(['pg_ctl', '-D', '/var/lib/postgresql/15/main', 'status']), 'pg_ctl -D /var/lib/postgresql/15/main status');
    assert.equal(quoteArg('user@host:5432'), 'user@host:5432');
  });

  it('quotes reserved words and assignments, which are syntax in command position', () => {
    assert.equal(quoteArg('if'), `'if'`);
    assert.equal(quoteArg('A=b'), `'A=b'`);
  });

  it('quotes the empty string as an empty argument', () => {
    assert.equal(quoteArg(''), `''`);
  });

  it('refuses NUL with INVALID_PARAMETER', () => {
    assert.throws(
      () => quoteArg('a\0b'),
      (err: unknown) => err instanceof HandyRepError && err.code === 'INVALID_PARAMETER',
    );
    assert.throws(
      () => quoteCommand(['echo', '\0']),
      (err: unknown) => err instanceof HandyRepError && err.code === 'INVALID_PARAMETER',
    );
  });

  it('refuses an empty argv', () => {
    assert.throws(
      () => quoteCommand([]),
      (err: unknown) => err instanceof HandyRepError && err.code === 'INVALID_PARAMETER',
    );
  });
});
