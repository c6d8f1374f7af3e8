/**
 * The log file is private (0600, also when it already existed wider) and passwords of any length
 * are masked, raw and in the escaped forms a conninfo, an SQL literal or JSON would show.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { EventLog } from '../../src/log/event-log.js';
import { conninfoValue } from '../../src/nodes/pg-conf-quote.js';

const dir = mkdtempSync(join(tmpdir(), 'handyrep-log-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function logTo(file: string): EventLog {
  return new EventLog({ file, tailSize: 100, verbose: true });
}

describe('log file mode', () => {
  it('a new log file is created 0600', () => {
    const file = join(dir, 'new', 'handyrep.log');
    const previous = process.umask(0o022);
    try {
      const log = logTo(file);
      log.info('TEST', 'hello');
      log.close();
    } finally {
      process.umask(previous);
    }
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.match(readFileSync(file, 'utf8'), /hello/);
  });

  it('an existing world-readable log file is narrowed to 0600 and appended to', () => {
    const file = join(dir, 'existing.log');
    writeFileSync(file, 'old line\n', { mode: 0o644 });
    const log = logTo(file);
    log.info('TEST', 'new line');
    log.close();
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.match(readFileSync(file, 'utf8'), /^old line\n.*new line/s);
  });
});

describe('password masking', () => {
  const LONG = 'L'.repeat(300);
  const rows: ReadonlyArray<[string, string]> = [
    ['one character', 'Q'],
    ['two characters', 'Zq'],
    ['long', LONG],
    ['quote and backslash, raw', "p'w\\x"],
  ];
  for (const [what, password] of rows) {
    it(`${what}: masked in the file and in read_log`, () => {
      const file = join(dir, `mask-${what.replace(/\W/g, '_')}.log`);
      const log = logTo(file);
      log.setSecrets([password]);
      log.error('SQL', `connect failed for password ${password} (again: ${password})`);
      log.close();
      const entry = log.recent(1)[0];
      assert.ok(entry);
      assert.equal(entry.message.includes(password), false, entry.message);
      assert.match(entry.message, /password \*{8} \(again: \*{8}\)/);
      const written = readFileSync(file, 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { msg: string }).msg);
      assert.deepEqual(written, [entry.message]);
    });
  }

  it('escaped forms are masked: inside a conninfo, an SQL literal, a JSON string', () => {
    const password = "p'w\\x\"y";
    const log = logTo(join(dir, 'escaped.log'));
    log.setSecrets([password]);
    log.warn('REMASTER', `ALTER SYSTEM failed for primary_conninfo host=a password=${conninfoValue(password)}`);
    log.warn('SQL', `ALTER ROLE r PASSWORD '${password.replace(/'/g, "''")}'`);
    log.warn('API', `body ${JSON.stringify({ password })}`);
    log.close();
    const messages = log.recent(3).map((e) => e.message);
    assert.deepEqual(messages.map((m) => m.includes('w\\')), [false, false, false], messages.join('\n'));
    for (const m of messages) assert.match(m, /\*{8}/);
  });
});
