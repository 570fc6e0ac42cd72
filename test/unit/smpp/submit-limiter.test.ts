import { describe, expect, it } from 'vitest';
import { SubmitLimiter } from '../../../src/smpp/submit-limiter.js';

/** An SMSC as the simulator counts: whole-millisecond clock, at most `tps` arrivals in any 1,000 ms. */
class Smsc {
  private readonly arrivals: number[] = [];
  accepted = 0;
  throttled = 0;
  constructor(private readonly tps: number) {}
  arrive(at: number): void {
    const now = Math.floor(at);
    while (this.arrivals.length > 0 && now - this.arrivals[0]! >= 1000) this.arrivals.shift();
    if (this.arrivals.length >= this.tps) this.throttled++;
    else {
      this.arrivals.push(now);
      this.accepted++;
    }
  }
}

/** Deterministic pseudo-random numbers in [0, 1). */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

interface Run {
  accepted: number;
  throttled: number;
  seconds: number;
  /** longest time between two sends */
  maxGapMs: number;
}

/**
 * A backlog sent through the limiter for `seconds` of fake time, `window` submits in flight, each SMS of
 * `parts` parts; each part reaches the SMSC after `forward()` ms and its answer comes `back()` ms later.
 */
function drive(opts: {
  tps: number;
  seconds: number;
  parts?: number;
  window?: number;
  forward: () => number;
  back: () => number;
  stepMs?: number;
}): Run {
  let now = 0;
  const limiter = new SubmitLimiter(opts.tps, () => now);
  const smsc = new Smsc(opts.tps);
  const parts = opts.parts ?? 1;
  const window = opts.window ?? 10;
  const events: { at: number; run: () => void }[] = [];
  let inflight = 0;
  let lastSend = 0;
  let maxGapMs = 0;
  const step = opts.stepMs ?? 0.25;
  for (; now < opts.seconds * 1000; now += step) {
    events.sort((a, b) => a.at - b.at);
    while (events.length > 0 && events[0]!.at <= now) events.shift()!.run();
    while (inflight + parts <= window) {
      const ticket = limiter.tryTake(parts);
      if (ticket < 0) break;
      maxGapMs = Math.max(maxGapMs, now - lastSend);
      lastSend = now;
      for (let i = 0; i < parts; i++) {
        inflight++;
        const arrival = now + opts.forward();
        events.push({ at: arrival, run: () => smsc.arrive(arrival) });
        events.push({
          at: arrival + opts.back(),
          run: () => {
            inflight--;
            limiter.settle(ticket + i);
          },
        });
      }
    }
  }
  return { accepted: smsc.accepted, throttled: smsc.throttled, seconds: opts.seconds, maxGapMs };
}

describe('SubmitLimiter', () => {
  it('reaches 100 parts/s on a fast link without one part over the limit', () => {
    const r = drive({ tps: 100, seconds: 20, forward: () => 0.2, back: () => 0.2 });
    expect(r.throttled).toBe(0);
    expect(r.accepted / r.seconds / 100).toBeGreaterThanOrEqual(0.995);
    // paced, not a second's parts at once and then none: a critical SMS never waits long for a slot
    expect(r.maxGapMs).toBeLessThanOrEqual(40);
  });

  it('stays under the limit when one-way delays vary (an SMSC that counts an old part late)', () => {
    const rand = prng(7);
    // forward 0.2-30.2 ms, back 0.2-5.2 ms: two sends 1,000 ms apart can arrive 970 ms apart
    const r = drive({
      tps: 100,
      seconds: 30,
      forward: () => 0.2 + 30 * rand(),
      back: () => 0.2 + 5 * rand(),
    });
    expect(r.throttled).toBe(0);
    expect(r.accepted / r.seconds / 100).toBeGreaterThanOrEqual(0.95);
  });

  it('keeps a millisecond of margin for a round trip that hides how it splits', () => {
    // every round trip is 1.2 ms, but the forward leg is 1.0 ms for one hundred parts, 0.2 ms for the next
    // hundred: a part arrives up to 0.8 ms later than its answer less the smallest round trip says
    let n = 0;
    let last = 0;
    const r = drive({
      tps: 100,
      seconds: 20,
      window: 1,
      forward: () => {
        last = Math.floor(n++ / 100) % 2 === 0 ? 1.0 : 0.2;
        return last;
      },
      back: () => 1.2 - last,
      stepMs: 0.1,
    });
    expect(r.throttled).toBe(0);
  });

  it('counts each part of a multi-part SMS', () => {
    const rand = prng(3);
    const r = drive({
      tps: 100,
      seconds: 20,
      parts: 3,
      window: 12,
      forward: () => 0.5 + 3 * rand(),
      back: () => 0.5,
    });
    expect(r.throttled).toBe(0);
    expect(r.accepted / r.seconds / 100).toBeGreaterThanOrEqual(0.98);
  });

  it('paces a burst (three at once, then one per interval) and frees a slot a window after its answer', () => {
    let now = 0;
    const limiter = new SubmitLimiter(100, () => now);
    expect([limiter.tryTake(1), limiter.tryTake(1), limiter.tryTake(1), limiter.tryTake(1)]).toEqual([
      0, 1, 2, -1,
    ]);
    expect(limiter.waitMs(1)).toBe(10);
    const answer = (t: number, at: number) => {
      const was = now;
      now = at;
      limiter.settle(t);
      now = was;
    };
    for (let t = 0; t < 3; t++) answer(t, 2);
    for (let t = 3; t < 100; t++) {
      now = t * 10;
      expect(limiter.tryTake(1)).toBe(t);
      answer(t, now + 2);
    }
    // the part 100 back was sent at 0 and answered at 2 (smallest round trip 2 ms): free at 0 + 1,000 + 1
    now = 1000.9;
    expect(limiter.tryTake(1)).toBe(-1);
    expect(limiter.waitMs(1)).toBe(1);
    now = 1001;
    expect(limiter.tryTake(1)).toBe(100);
  });

  it('holds a slot until its answer comes, and a multi-part request needs all its slots', () => {
    let now = 0;
    const limiter = new SubmitLimiter(3, () => now);
    expect(limiter.tryTake(2)).toBe(0);
    expect(limiter.tryTake(2)).toBe(-1); // one slot left
    expect(limiter.tryTake(1)).toBe(2);
    now = 5_000;
    expect(limiter.waitMs(1)).toBe(Number.POSITIVE_INFINITY);
    expect(limiter.tryTake(1)).toBe(-1);
    limiter.settle(0, 2);
    expect(limiter.tryTake(2)).toBe(3);
    expect(limiter.tryTake(1)).toBe(-1); // slot of ticket 2 still unanswered
  });

  it('grants a request larger than the window once the whole window is free, then paces what follows', () => {
    let now = 0;
    const limiter = new SubmitLimiter(2, () => now);
    expect(limiter.tryTake(5)).toBe(0);
    limiter.settle(0, 5);
    now = 1002; // the log is free again, but five parts take 2.5 s of the pace (tolerance 1 s)
    expect(limiter.tryTake(1)).toBe(-1);
    now = 1500;
    expect(limiter.tryTake(1)).toBe(5);
  });

  it('stretches the window while the rate is lowered after throttling', () => {
    let now = 0;
    const limiter = new SubmitLimiter(10, () => now);
    limiter.setRate(5);
    expect(limiter.currentRate).toBe(5);
    for (let t = 0; t < 10; t++) {
      now = t * 200; // one per interval at 5/s
      expect(limiter.tryTake(1)).toBe(t);
      limiter.settle(t);
    }
    now = 2000; // the part 10 back went at 0: at half the rate the window is 2 s (+1 ms)
    expect(limiter.tryTake(1)).toBe(-1);
    now = 2002;
    expect(limiter.tryTake(1)).toBe(10);
  });

  it('keeps at most 1,000 slots and never more than tps in a second at high rates', () => {
    const limiter = new SubmitLimiter(1_000_000, () => 0);
    expect(limiter.size).toBe(1000);
    expect(limiter.windowMs).toBe(1);
    const odd = new SubmitLimiter(1500, () => 0);
    expect(odd.size * (1000 / odd.windowMs)).toBeLessThanOrEqual(1500);
    const slow = new SubmitLimiter(0.5, () => 0);
    expect([slow.size, slow.windowMs]).toEqual([1, 2000]);
  });
});
