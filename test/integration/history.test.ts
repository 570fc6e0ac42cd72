import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { HistoryPurger, PURGE_BATCH } from '../../src/history.js';
import { createStore, type NewSms, type Store } from '../../src/store/index.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { HISTORY_KINDS } from '../../src/store/store.js';
import { FaultyStore } from '../helpers/faulty-store.js';
import { startHarness, tempDir, waitFor } from '../helpers/harness.js';
import { captureLog } from './smpp/helpers.js';

const DAY = 86_400_000;
const stops: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const stop of stops.reverse()) await stop();
  stops.length = 0;
});

async function openStore(): Promise<Store> {
  const dir = tempDir();
  const store = createStore({ path: join(dir, 'bridge.db'), synchronous: 'normal' });
  await store.start();
  stops.push(async () => {
    await store.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  return store;
}

const sms = (text: string): NewSms => ({
  to: '+447700900001',
  text,
  priority: 'normal',
  source: 'test',
  expiresAt: Date.now() + 60_000,
});

/** `n` SMS committed now, all failed but the first, which stays queued. */
async function history(store: Store, n: number): Promise<void> {
  const made = await store.transaction((tx) =>
    tx.outbox.enqueue(Array.from({ length: n }, (_, i) => sms(`sms ${i}`))),
  );
  await store.transaction(async (tx) => {
    for (const s of made.slice(1)) await tx.outbox.markFailed(s.id, 'failed', null, 'no');
  });
}

describe('HistoryPurger', () => {
  it('removes a backlog larger than one batch in one run, and logs what went; the queued SMS stays', async () => {
    const store = await openStore();
    const n = PURGE_BATCH * 2 + 200;
    await history(store, n);
    const log = captureLog();
    const purger = new HistoryPurger(store, { retentionMs: DAY, logger: log.logger });
    const removed = await purger.run(Date.now() + 2 * DAY);
    expect(removed.sms).toBe(n - 1);
    expect(await store.countByState()).toMatchObject({ queued: 1, failed: 0 });
    const line = log.lines.find((l) => l.msg === 'old history removed');
    expect(line).toMatchObject({ removed: { sms: n - 1 }, retention_ms: DAY });
  });

  it('keeps everything younger than the retention, and everything but the caps’ sends with retention 0', async () => {
    const store = await openStore();
    await history(store, 10);
    const log = captureLog();
    expect((await new HistoryPurger(store, { retentionMs: DAY, logger: log.logger }).run()).sms).toBe(0);
    const forever = new HistoryPurger(store, { retentionMs: 0, logger: log.logger });
    expect((await forever.run(Date.now() + 365 * DAY)).sms).toBe(0);
    expect((await store.listSms({ limit: 100 })).length).toBe(10);
    expect(log.lines.filter((l) => l.msg === 'old history removed')).toEqual([]);
  });

  it('runs on its interval after start, and not after stop()', async () => {
    const store = await openStore();
    await history(store, 3);
    const log = captureLog();
    // a retention of one day and SMS from now: nothing goes, but each run reads; 20 ms apart
    const purger = new HistoryPurger(store, { retentionMs: DAY, logger: log.logger, intervalMs: 20 });
    let runs = 0;
    const run = purger.run.bind(purger);
    purger.run = (now?: number) => {
      runs++;
      return run(now);
    };
    await purger.start();
    await new Promise((r) => setTimeout(r, 200));
    await purger.stop();
    const after = runs;
    expect(after).toBeGreaterThanOrEqual(2);
    await new Promise((r) => setTimeout(r, 100));
    expect(runs).toBe(after);
  });
});

describe('App and the history purge', () => {
  it('runs the purge through its store from the start, and no more once stopped', async () => {
    let faulty: FaultyStore | undefined;
    const h = await startHarness({
      historyIntervalMs: 20,
      store: (path) => {
        faulty = new FaultyStore(new SqliteStore({ path }));
        return faulty;
      },
    });
    const purges = () => faulty?.calls.get('history.purge') ?? 0;
    try {
      // each run asks every kind once at least
      await waitFor(() => purges() >= 2 * HISTORY_KINDS.length, 'two runs of the history purge');
    } finally {
      await h.close();
    }
    const after = purges();
    await new Promise((r) => setTimeout(r, 200));
    expect(purges()).toBe(after);
  });
});
