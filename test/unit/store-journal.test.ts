/**
 * An interrupted topology change is never ignored: a journal that exists but cannot be read or
 * understood stops start-up with an error naming the file (it used to be read as "no journal").
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { HandyRepError } from '../../src/model/errors.js';
import { journalPath, readJournal } from '../../src/store/journal.js';

const dir = mkdtempSync(join(tmpdir(), 'handyrep-journal-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function serverFileWith(name: string, journal: string | 'folder' | null): string {
  const serverFile = join(dir, name, 'servers.save');
  mkdirSync(join(dir, name), { recursive: true });
  if (journal === 'folder') mkdirSync(journalPath(serverFile));
  else if (journal !== null) writeFileSync(journalPath(serverFile), journal);
  return serverFile;
}

describe('readJournal', () => {
  it('no journal: null', async () => {
    assert.equal(await readJournal(serverFileWith('none', null)), null);
  });

  it('a valid record is returned', async () => {
    const record = { id: 'x', kind: 'failover', steps: [], outcome: 'RUNNING' };
    assert.deepEqual(await readJournal(serverFileWith('valid', JSON.stringify(record))), record);
  });

  const bad: ReadonlyArray<[string, string | 'folder', RegExp]> = [
    ['corrupt JSON (cut short)', '{"id": "x", "kind": "failo', /is not valid JSON/],
    ['empty file', '', /is not valid JSON/],
    ['JSON but not a record', '[1, 2]', /is not a failover record/],
    ['a record without steps', '{"id": "x", "kind": "failover"}', /is not a failover record/],
    ['unreadable (a folder in its place)', 'folder', /cannot be read \(EISDIR/],
  ];
  for (const [what, content, reason] of bad) {
    it(`${what}: refused, naming the file`, async () => {
      const serverFile = serverFileWith(what.replace(/\W/g, '_'), content);
      await assert.rejects(readJournal(serverFile), (err: unknown) => {
        assert.ok(err instanceof HandyRepError);
        assert.equal(err.code, 'STATE_FILE');
        assert.ok(err.message.includes(journalPath(serverFile)), err.message);
        assert.match(err.message, reason);
        assert.match(err.message, /repair or delete it/);
        return true;
      });
    });
  }
});
