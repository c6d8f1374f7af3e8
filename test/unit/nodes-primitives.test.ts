/** TailBuffer (bounded output capture) and Semaphore (channel limit). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TailBuffer } from '../../src/nodes/output-buffer.js';
import { Semaphore } from '../../src/nodes/semaphore.js';

describe('TailBuffer', () => {
  it('keeps everything under the cap', () => {
    const buf = new TailBuffer(10);
    buf.push('abc');
    buf.push(Buffer.from('def'));
    assert.equal(buf.text(), 'abcdef');
  });

  it('keeps the tail and says how much was dropped', () => {
    const buf = new TailBuffer(5);
    buf.push('12345');
    buf.push('678');
    assert.equal(buf.text(), '[... 3 bytes of output dropped ...]\n45678');
    buf.push('abcdefghij');
    assert.equal(buf.text(), '[... 13 bytes of output dropped ...]\nfghij');
  });
});

describe('Semaphore', () => {
  it('limits concurrent holders and serves waiters in order', async () => {
    const sem = new Semaphore(2);
    const a = await sem.acquire();
    const b = await sem.acquire();
    const order: string[] = [];
    const c = sem.acquire().then((release) => {
      order.push('c');
      return release;
    });
    const d = sem.acquire().then((release) => {
      order.push('d');
      return release;
    });
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(order, []);
    assert.equal(sem.inUse, 2);
    a();
    a(); // double release is harmless
    const releaseC = await c;
    assert.deepEqual(order, ['c']);
    b();
    const releaseD = await d;
    assert.deepEqual(order, ['c', 'd']);
    assert.equal(sem.inUse, 2);
    releaseC();
    releaseD();
    assert.equal(sem.inUse, 0);
  });

  it('drops an aborted waiter from the queue', async () => {
    const sem = new Semaphore(1);
    const hold = await sem.acquire();
    const controller = new AbortController();
    const waiting = sem.acquire(controller.signal);
    controller.abort(new Error('gave up'));
    await assert.rejects(waiting, /gave up/);
    hold();
    assert.equal(sem.inUse, 0);
    const again = await sem.acquire();
    assert.equal(sem.inUse, 1);
    again();
  });

  it('refuses a non-positive limit', () => {
    assert.throws(() => new Semaphore(0), RangeError);
  });
});
