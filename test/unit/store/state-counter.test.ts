import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SMS_COUNTS_SQL } from '../../../src/store/sqlite/outbox.js';
import { SqliteStore } from '../../../src/store/sqlite/sqlite-store.js';
import { StateCounter } from '../../../src/store/sqlite/state-counter.js';
import type { NewSms } from '../../../src/store/store.js';
import { tempDir } from '../../helpers/harness.js';

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

const sms = (n: number): NewSms[] =>
  Array.from({ length: n }, (_, i) => ({
    to: '+447700900001',
    text: `sms ${i}`,
    priority: 'normal' as const,
    source: 'test',
    expiresAt: Date.now() + 60_000,
  }));

async function fileStore(): Promise<SqliteStore> {
  const dir = tempDir();
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  const store = new SqliteStore({ path: join(dir, 'bridge.db') });
  await store.start();
  cleanup.push(() => store.stop());
  return store;
}

describe('the SMS counted by state off the event loop (SQLite)', () => {
  it('counts on a connection of its own: an SMS its own connection has not committed yet is not counted', async () => {
    const store = await fileStore();
    const [first] = await store.transaction((tx) => tx.outbox.enqueue(sms(3)));
    await store.transaction((tx) => tx.outbox.markFailed(first!.id, 'failed', null, 'test'));
    expect(await store.countByState()).toEqual({
      queued: 2,
      submitted: 0,
      delivered: 0,
      failed: 1,
      expired: 0,
    });
    // inside a transaction of the store's own connection (the group commit stays open while it awaits): a count
    // on that connection would see the new row, one on another connection sees what is committed
    const during = await store.transaction(async (tx) => {
      await tx.outbox.enqueue(sms(1));
      return store.countByState();
    });
    expect(during.queued).toBe(2);
    expect((await store.countByState()).queued).toBe(3);
  });

  it('asked again while a count runs, answers that count', async () => {
    const store = await fileStore();
    await store.transaction((tx) => tx.outbox.enqueue(sms(2)));
    const path = (store as unknown as { options: { path: string } }).options.path;
    const counter = new StateCounter(path, SMS_COUNTS_SQL);
    cleanup.push(() => counter.stop());
    const a = counter.count();
    expect(counter.count()).toBe(a);
    expect(await a).toEqual([{ state: 'queued', n: 2 }]);
  });

  it('without a worker that can read the file, says so, and the store would count on its own connection', async () => {
    const dir = tempDir();
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const counter = new StateCounter(join(dir, 'missing.db'), SMS_COUNTS_SQL);
    cleanup.push(() => counter.stop());
    await expect(counter.count()).rejects.toThrow(/worker stopped/);
    expect(counter.available).toBe(false);
    expect(counter.count()).toBeUndefined();
  });

  it('a store stopping fails the count under way; it does not count again on the connection it closes', async () => {
    const dir = tempDir();
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const store = new SqliteStore({ path: join(dir, 'bridge.db') });
    await store.start();
    await store.countByState(); // the worker started
    const failed = expect(store.countByState()).rejects.toThrow(/closing/);
    await store.stop();
    await failed;
  });

  it('stopping fails the count under way and leaves no worker to ask', async () => {
    const store = await fileStore();
    const path = (store as unknown as { options: { path: string } }).options.path;
    const counter = new StateCounter(path, SMS_COUNTS_SQL);
    const failed = expect(counter.count()).rejects.toThrow(/closing/);
    await counter.stop();
    await failed;
    expect(counter.count()).toBeUndefined();
  });
});
