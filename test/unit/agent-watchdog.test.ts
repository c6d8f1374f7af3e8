/**
 * The watchdog against a fake device (a plain file): fed while armed, magic-closed on disarm,
 * `required` refused when the device does not open, `auto` carrying on without it.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Watchdog } from '../../src/agent/watchdog.js';

describe('watchdog', () => {
  const dir = mkdtempSync(join(tmpdir(), 'handyrep-watchdog-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('arms, feeds and magic-closes the device', () => {
    const device = join(dir, 'wd');
    writeFileSync(device, '');
    const wd = new Watchdog('auto', device);
    wd.arm();
    wd.feed();
    wd.feed();
    assert.equal(readFileSync(device, 'utf8'), 'xx');
    wd.disarm();
    assert.equal(readFileSync(device, 'utf8'), 'xxV');
    assert.equal(wd.armed, false);
  });

  it('off never touches the device', () => {
    const wd = new Watchdog('off', join(dir, 'absent', 'wd'));
    wd.arm();
    wd.feed();
    assert.equal(wd.armed, false);
    assert.equal(wd.check(), null);
  });

  it('required refuses a device that does not open; auto carries on without it', () => {
    const missing = join(dir, 'absent', 'wd');
    assert.match(new Watchdog('required', missing).check() ?? '', /watchdog is required but .*absent\/wd cannot be opened/);
    const auto = new Watchdog('auto', missing);
    assert.equal(auto.check(), null);
    auto.arm();
    assert.equal(auto.armed, false);
  });
});
