import { describe, expect, it } from 'vitest';
import { StateCounts } from '../../../src/http/state-counts.js';
import type { SmsState } from '../../../src/store/store.js';

const counts = (queued: number): Record<SmsState, number> => ({
  queued,
  submitted: 0,
  delivered: 0,
  failed: 0,
  expired: 0,
});

/** A StateCounts over a read that counts its calls, with a clock the test moves. */
function setUp() {
  let clock = 0;
  let reads = 0;
  let next = 1;
  let fail = false;
  const c = new StateCounts(
    async () => {
      reads++;
      if (fail) throw new Error('store closed');
      return counts(next);
    },
    2000,
    () => clock,
  );
  return {
    c,
    reads: () => reads,
    tick: (ms: number) => {
      clock += ms;
    },
    setNext: (n: number) => {
      next = n;
    },
    setFail: (f: boolean) => {
      fail = f;
    },
  };
}

describe('StateCounts (the SMS counts of /metrics and the status page)', () => {
  it('reads the store once, then again only after a change and the interval', async () => {
    const t = setUp();
    expect((await t.c.get()).queued).toBe(1);
    // hammered without a change: no read, however long
    for (let i = 0; i < 100; i++) await t.c.get();
    t.tick(60_000);
    await t.c.get();
    expect(t.reads()).toBe(1);
    // a change: read again at once, since the last read is older than the interval
    t.setNext(2);
    t.c.changed();
    expect((await t.c.get()).queued).toBe(2);
    expect(t.reads()).toBe(2);
    // changes within the interval: the last counts, until the interval has passed
    t.setNext(3);
    t.c.changed();
    t.tick(1999);
    for (let i = 0; i < 100; i++) expect((await t.c.get()).queued).toBe(2);
    t.tick(1);
    expect((await t.c.get()).queued).toBe(3);
    expect(t.reads()).toBe(3);
  });

  it('shares one read among the askers during it, and reads again after a failed one', async () => {
    const t = setUp();
    const [a, b, c] = await Promise.all([t.c.get(), t.c.get(), t.c.get()]);
    expect([a.queued, b.queued, c.queued]).toEqual([1, 1, 1]);
    expect(t.reads()).toBe(1);
    t.setFail(true);
    t.c.changed();
    t.tick(2000);
    await expect(t.c.get()).rejects.toThrow('store closed');
    t.setFail(false);
    t.setNext(5);
    t.tick(2000);
    expect((await t.c.get()).queued).toBe(5);
    expect(t.reads()).toBe(3);
  });
});
