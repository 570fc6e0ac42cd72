import { describe, expect, it } from 'vitest';
import { SubmitLimiter } from '../../../src/smpp/submit-limiter.js';

/** An SMSC as the simulator counts: whole-millisecond clock, at most `tps` arrivals in any 1,000 ms. */
class Smsc {
  private readonly arrivals: number[] = [];
  accepted = 0;
  throttled = 0;
  constructor(private readonly tps: number) {}
  /** true when accepted */
  arrive(at: number): boolean {
    const now = Math.floor(at);
    while (this.arrivals.length > 0 && now - this.arrivals[0]! >= 1000) this.arrivals.shift();
    if (this.arrivals.length >= this.tps) {
      this.throttled++;
      return false;
    }
    this.arrivals.push(now);
    this.accepted++;
    return true;
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
  /** when each send went */
  sends: number[];
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
  const sends: number[] = [];
  const step = opts.stepMs ?? 0.25;
  for (; now < opts.seconds * 1000; now += step) {
    events.sort((a, b) => a.at - b.at);
    while (events.length > 0 && events[0]!.at <= now) events.shift()!.run();
    while (inflight + parts <= window) {
      const ticket = limiter.tryTake(parts);
      if (ticket < 0) break;
      maxGapMs = Math.max(maxGapMs, now - lastSend);
      lastSend = now;
      sends.push(now);
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
  return { accepted: smsc.accepted, throttled: smsc.throttled, seconds: opts.seconds, maxGapMs, sends };
}

/**
 * The sender's loop on fake time as Node runs it: a part goes when the limiter says so, tried again when an
 * answer comes or when a timer fires; timers count whole milliseconds from a loop time up to 1 ms stale, so
 * they fire up to 1 ms early or late. One-part SMS, `window` in flight. Returns the parts the SMSC accepted in
 * each second (by arrival) and its 0x58 count.
 */
function driveOnTimers(opts: {
  tps: number;
  seconds: number;
  window: number;
  forward: () => number;
  back: () => number;
  stale: () => number;
}): { perSecond: number[]; throttled: number } {
  let now = 0;
  const limiter = new SubmitLimiter(opts.tps, () => now);
  const smsc = new Smsc(opts.tps);
  const perSecond = new Array<number>(opts.seconds).fill(0);
  const events: { at: number; run: () => void }[] = [];
  let inflight = 0;
  let wakeAt = Number.POSITIVE_INFINITY;
  const pump = () => {
    while (inflight < opts.window) {
      const ticket = limiter.tryTake(1);
      if (ticket < 0) break;
      inflight++;
      const arrival = now + opts.forward();
      events.push({
        at: arrival,
        run: () => {
          if (smsc.arrive(arrival) && arrival < opts.seconds * 1000) perSecond[Math.floor(arrival / 1000)]!++;
        },
      });
      events.push({
        at: arrival + opts.back(),
        run: () => {
          inflight--;
          limiter.settle(ticket);
          pump();
        },
      });
    }
    if (inflight >= opts.window) return;
    const ms = limiter.waitMs(1);
    if (ms === Number.POSITIVE_INFINITY) return; // an answer wakes it
    // setTimeout(ms): due ms after the loop's whole-millisecond time, read when this turn of the loop began;
    // it fires in a later turn at the earliest (0.05 ms)
    const at = Math.max(now + 0.05, Math.floor(now - opts.stale()) + Math.max(1, ms));
    if (at >= wakeAt) return;
    wakeAt = at;
    events.push({
      at,
      run: () => {
        if (wakeAt !== at) return; // replaced by an earlier one
        wakeAt = Number.POSITIVE_INFINITY;
        pump();
      },
    });
  };
  pump();
  while (events.length > 0 && now < opts.seconds * 1000) {
    let next = 0;
    for (let i = 1; i < events.length; i++) if (events[i]!.at < events[next]!.at) next = i;
    const [event] = events.splice(next, 1);
    now = Math.max(now, event!.at);
    event!.run();
  }
  return { perSecond, throttled: smsc.throttled };
}

describe('SubmitLimiter', () => {
  it('reaches 100 parts/s on a fast link without one part over the limit', () => {
    const r = drive({ tps: 100, seconds: 20, forward: () => 0.2, back: () => 0.2 });
    expect(r.throttled).toBe(0);
    expect(r.accepted / r.seconds / 100).toBeGreaterThanOrEqual(0.995);
    // paced, not a second's parts at once and then none: a critical SMS never waits long for a slot
    expect(r.maxGapMs).toBeLessThanOrEqual(40);
  });

  it('admits 0.995 of the limit per second at steady state on whole-millisecond timers', () => {
    const rand = prng(11);
    // round trips of 1-3 ms (the bench's loopback), timers read from a loop time up to 1 ms stale
    const r = driveOnTimers({
      tps: 100,
      seconds: 60,
      window: 10,
      forward: () => 0.5 + rand(),
      back: () => 0.5 + rand(),
      stale: () => rand(),
    });
    expect(r.throttled).toBe(0);
    // the first second goes at the pacer's rate from all slots free; from the second on each slot waits for
    // its part's answer a second earlier
    const steady = r.perSecond.slice(2, -1);
    const mean = steady.reduce((a, b) => a + b, 0) / steady.length;
    expect(mean).toBeGreaterThanOrEqual(0.995 * 100);
    expect(Math.max(...r.perSecond)).toBeLessThanOrEqual(100);
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

  it('stays under the limit when the smallest round trip had the slow forward leg', () => {
    // Seen against the simulator with Nagle's algorithm on its socket: the first submit_sm took 4.4 ms to
    // arrive and its answer 2 ms to come back (6.4 ms, the smallest round trip ever seen, since every later
    // answer waited ~9 ms for the next submit_sm to acknowledge the one before), later submits arrived in
    // 1.5 ms. Part 100 sent a second after part 0's answer less that round trip arrives 998 ms after it.
    // (The first three are slow here: a burst at the start, as the pacer once allowed, arrives that way.)
    let n = 0;
    let m = 0;
    const r = drive({
      tps: 100,
      seconds: 5,
      forward: () => (n++ < 3 ? 4.4 : 1.5),
      back: () => (m++ < 3 ? 2 : 9),
    });
    expect(r.throttled).toBe(0);
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

  it('paces from the first part (one at once, then one per interval) and frees a slot a window after its answer', () => {
    let now = 0;
    const limiter = new SubmitLimiter(100, () => now);
    expect([limiter.tryTake(1), limiter.tryTake(1)]).toEqual([0, -1]);
    // the interval: the slots' second (+1 ms) over 100, +0.3% for the round trip and the timer
    expect(limiter.waitMs(1)).toBe(Math.ceil((1001 * 1.003) / 100));
    const answer = (t: number, at: number) => {
      const was = now;
      now = at;
      limiter.settle(t);
      now = was;
    };
    answer(0, 5); // a slow first answer: its slot, not the pacer, holds part 100 back
    for (let t = 1; t < 100; t++) {
      now = t * 10.05;
      expect(limiter.tryTake(1)).toBe(t);
      answer(t, now + 2);
    }
    // the part 100 back was answered at 5: it arrived by then, so its slot is free at 5 + 1,000 + 1
    now = 1005.9;
    expect(limiter.tryTake(1)).toBe(-1);
    expect(limiter.waitMs(1)).toBe(1);
    now = 1006;
    expect(limiter.tryTake(1)).toBe(100);
  });

  it('keeps a backlog evenly spaced: no gap of several intervals once a second for a critical SMS to wait out', () => {
    // three parts at once at the start came free together every second, the other 97 at the pacer's rate:
    // a 32 ms gap each second at 100/s
    const r = drive({ tps: 100, seconds: 10, window: 100, forward: () => 0.5, back: () => 0.5 });
    expect(r.throttled).toBe(0);
    expect(r.maxGapMs).toBeLessThanOrEqual(15);
  });

  it('paces a backlog by its interval, not by its slots, while round trips stay under the 0.3% slack', () => {
    // Round trips of 0.5-2.5 ms. Paced at exactly the slots' second, each part would wait for the slot of the
    // part 100 back, answered a round trip after it went: each gap would take on the difference of two round
    // trips a second apart. With the pacer 0.3% slower (3 ms a second at 100/s), every slot is free before the
    // pacer lets its next part go, and the gaps stay one interval apart.
    const rand = prng(5);
    const r = drive({
      tps: 100,
      seconds: 10,
      window: 10,
      forward: () => 0.25 + rand(),
      back: () => 0.25 + rand(),
      stepMs: 0.05,
    });
    expect(r.throttled).toBe(0);
    const interval = (1001 * 1.003) / 100;
    const steady = r.sends.filter((at) => at > 2_000);
    const gaps = steady.slice(1).map((at, i) => at - steady[i]!);
    expect(gaps.length).toBeGreaterThan(700);
    expect(Math.min(...gaps)).toBeGreaterThan(interval - 0.1);
    expect(Math.max(...gaps)).toBeLessThan(interval + 0.1);
  });

  it('holds a slot until its answer comes, and a multi-part request needs all its slots', () => {
    let now = 0;
    const limiter = new SubmitLimiter(3, () => now);
    expect(limiter.tryTake(2)).toBe(0);
    now = 700; // past the pace of those two parts (1/3 s each, less the tolerance)
    expect(limiter.tryTake(2)).toBe(-1); // one slot left
    expect(limiter.tryTake(1)).toBe(2);
    now = 5_000;
    expect(limiter.waitMs(1)).toBe(Number.POSITIVE_INFINITY);
    expect(limiter.tryTake(1)).toBe(-1);
    limiter.settle(0, 2);
    expect(limiter.tryTake(2)).toBe(-1); // answered now: free a second (+1 ms) from now
    now = 6_001;
    expect(limiter.tryTake(2)).toBe(3);
    expect(limiter.tryTake(1)).toBe(-1); // slot of ticket 2 still unanswered
  });

  it('grants a request larger than the window once the whole window is free, then paces what follows', () => {
    let now = 0;
    const limiter = new SubmitLimiter(2, () => now);
    expect(limiter.tryTake(5)).toBe(0);
    limiter.settle(0, 5);
    now = 1002; // the log is free again, but five parts take 2.5 s of the pace (+0.3%)
    expect(limiter.tryTake(1)).toBe(-1);
    now = 2510;
    expect(limiter.tryTake(1)).toBe(-1);
    now = 2511;
    expect(limiter.tryTake(1)).toBe(5);
  });

  it('stretches the window while the rate is lowered after throttling', () => {
    let now = 0;
    const limiter = new SubmitLimiter(10, () => now);
    limiter.setRate(5);
    expect(limiter.currentRate).toBe(5);
    for (let t = 0; t < 10; t++) {
      now = t * 201; // one per interval at 5/s (+0.3%)
      expect(limiter.tryTake(1)).toBe(t);
      if (t > 0) limiter.settle(t);
    }
    const was = now;
    now = 10;
    limiter.settle(0); // answered at 10
    now = was;
    now = 2010; // at half the rate the window is 2 s (+1 ms): the part 10 back frees its slot at 2,011
    expect(limiter.tryTake(1)).toBe(-1);
    now = 2011;
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
