/**
 * Temporary passfiles (issue 11): written through a real local shell, the file is 0600 inside a
 * fresh private folder (0700, unguessable name, not /tmp itself), holds exactly the line, and the
 * folder is gone afterwards, also when the command using it throws.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { describe, it } from 'node:test';
import { LocalShell } from '../../src/nodes/local-shell.js';
import { passfileLine, withPassfile } from '../../src/nodes/passfile.js';

const shell = new LocalShell();
const LINE = passfileLine('10.0.0.1', 5432, 'replicator', "p:a\\ss 'w\n");

describe('withPassfile', () => {
  it('writes the line into a 0600 file in a fresh 0700 folder, then removes both', async () => {
    const seen: string[] = [];
    await withPassfile(shell, LINE, async (path) => {
      assert.ok(path !== null);
      seen.push(path);
      const folder = dirname(path);
      assert.notEqual(folder, '/tmp', 'not directly in /tmp');
      assert.match(folder, /\/handyrep-pgpass\.[A-Za-z0-9]{10}$/);
      assert.equal(statSync(path).mode & 0o777, 0o600);
      assert.equal(statSync(folder).mode & 0o777, 0o700);
      assert.equal(readFileSync(path, 'utf8'), LINE);
    });
    const [path] = seen;
    assert.ok(path !== undefined);
    assert.equal(existsSync(path), false);
    assert.equal(existsSync(dirname(path)), false);
  });

  it('two passfiles never share a folder name', async () => {
    const folders = await Promise.all([1, 2].map(() => withPassfile(shell, LINE, async (path) => dirname(path ?? ''))));
    assert.notEqual(folders[0], folders[1]);
  });

  it('removes the folder when the command using it throws', async () => {
    let kept = '';
    await assert.rejects(
      withPassfile(shell, LINE, async (path) => {
        kept = path ?? '';
        throw new Error('boom');
      }),
      /boom/,
    );
    assert.ok(kept !== '');
    assert.equal(existsSync(dirname(kept)), false);
  });

  it('no password: no file, the command gets null', async () => {
    assert.equal(await withPassfile(shell, null, async (path) => path), null);
  });

  it('the line escapes ":" and "\\" as libpq requires', () => {
    assert.equal(passfileLine('h', 1, 'u:x', 'a\\b:c'), 'h:1:*:u\\:x:a\\\\b\\:c\n');
  });
});
