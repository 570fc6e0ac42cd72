import { performance } from 'node:perf_hooks';

/** Slots kept per connection; above this many parts per second the window shrinks (1 s / k for k = tps / 1000). */
const MAX_SLOTS = 1000;
/** The pacer's interval over the slots' (`intervalMs`). */
const PACE_SLACK = 1.003;

/**
 * Parts per second as an SMSC counts them: at most `tps` submit_sm *arrivals* in any sliding second, each part
 * of a concatenated SMS counting once. A sliding log of the last N parts (N = tps): a part may go when the
 * part N back is known to have arrived at least a window ago. That reaches the limit exactly (a token bucket of
 * depth c refilling at r lets r + c through in one second, so it must refill below the limit) and absorbs
 * timer lateness the way a burst does, without crossing the limit.
 *
 * When did the SMSC count a part? After we wrote it and before its submit_sm_resp came back, and nothing
 * narrows it further: the send time alone lets an SMSC busy for a moment count an old part late and a new one
 * on time, and the response time less the smallest round trip seen assumes that round trip split as every
 * later one does (an SMSC that holds its answers by Nagle's algorithm while one forward leg was slow broke
 * that: 1-2 0x58 per run). So a slot is freed a window after its answer; until then it stays taken. That
 * costs one round trip per slot per second. One millisecond per second of window covers an SMSC whose clock
 * runs up to 0.1% slower than ours, or one that counts a second closed at both ends in whole milliseconds.
 *
 * The log alone would let a whole second's parts go at once and then none for a second, and a critical SMS
 * arriving after such a burst would wait that second. So sends are also paced (GCRA: one part per 1/tps of the
 * slots' second +0.3%, see `intervalMs`; a
 * tolerance of two intervals or 2 ms, whichever is longer, that absorbs late timers, and no burst after a pause:
 * see `tryTake`); the log stays the limit.
 */
export class SubmitLimiter {
  /** per slot: when its answer came (+Infinity until it does, -Infinity never used), ring by ticket % size */
  private readonly answeredAt: Float64Array;
  /** parts taken so far: the next ticket */
  private taken = 0;
  /** GCRA theoretical arrival time of the next part */
  private tat = Number.NEGATIVE_INFINITY;
  private rate: number;
  /** parts per window */
  readonly size: number;
  readonly windowMs: number;

  constructor(
    readonly maxRate: number,
    private readonly clock: () => number = () => performance.now(),
  ) {
    if (maxRate >= 1) {
      const k = Math.ceil(maxRate / MAX_SLOTS);
      // N per 1/k s, k windows in a second: never more than tps in any second (a fraction of a part is not sent)
      this.size = Math.max(1, Math.floor(maxRate / k));
      this.windowMs = 1000 / k;
    } else {
      this.size = 1;
      this.windowMs = 1000 / maxRate;
    }
    this.answeredAt = new Float64Array(this.size).fill(Number.NEGATIVE_INFINITY);
    this.rate = maxRate;
  }

  /** The current rate, lowered after throttling and ramped back up. */
  get currentRate(): number {
    return this.rate;
  }

  setRate(rate: number): void {
    this.rate = Math.max(this.maxRate / 100, Math.min(this.maxRate, rate));
  }

  /** The window a slot stays taken after its part arrived, stretched while the rate is lowered. */
  private get spanMs(): number {
    return (this.windowMs * this.maxRate) / this.rate + this.windowMs / 1000;
  }

  /**
   * The pacer's interval: a window's parts spread over the time a slot takes to come round (its span, plus 0.3%
   * for the round trip and the timer that sends the next part: ~3 ms at 100/s). Paced exactly at the limit, each
   * part waited for its own slot instead, and every round trip and late timer stretched that slot's second.
   */
  private get intervalMs(): number {
    return (this.spanMs * PACE_SLACK) / this.size;
  }

  /** How late the pacer may be on its schedule and still catch up: two intervals or 2 ms. */
  private get toleranceMs(): number {
    return Math.max(2 * this.intervalMs, 2);
  }

  /** When the pacer lets the next part go. */
  private paceAt(): number {
    return this.tat - this.toleranceMs;
  }

  /** When the n oldest slots are all free (+Infinity while one awaits its answer). */
  private freeAt(n: number): number {
    const need = Math.min(n, this.size);
    let latest = Number.NEGATIVE_INFINITY;
    for (let t = this.taken; t < this.taken + need; t++) {
      const at = this.answeredAt[t % this.size]!;
      if (at === Number.POSITIVE_INFINITY) return at;
      if (at > latest) latest = at;
    }
    return latest === Number.NEGATIVE_INFINITY ? latest : latest + this.spanMs;
  }

  /**
   * Takes n slots when they are free; returns the ticket of the first (settle each with its answer) or -1.
   * More parts than the window holds go once the whole window is free.
   */
  tryTake(n: number): number {
    const now = this.clock();
    if (this.paceAt() > now || this.freeAt(n) > now) return -1;
    // After a pause the pacer starts from its full tolerance, not from none: the tolerance catches up late
    // timers while sending, but at a start it let three parts go at once. Their slots then came free together
    // every second, and the other 97 went at the pacer's rate: a gap of three intervals each second (32 ms at
    // 100/s), which a critical SMS arriving in it waited out (BENCHMARKS.md, session 5).
    this.tat = (this.tat < now ? now + this.toleranceMs : this.tat) + n * this.intervalMs;
    const ticket = this.taken;
    for (let t = ticket; t < ticket + n; t++) this.answeredAt[t % this.size] = Number.POSITIVE_INFINITY;
    this.taken += n;
    return ticket;
  }

  /**
   * The answer (or the failure) of the submit_sm that carried `count` slots from `ticket` on. A slot that was
   * never answered cannot be reused, so every taken slot must be settled.
   */
  settle(ticket: number, count = 1): void {
    const now = this.clock();
    for (let t = Math.max(ticket, this.taken - this.size); t < ticket + count; t++)
      this.answeredAt[t % this.size] = now;
  }

  /** Milliseconds until n slots are free; +Infinity while one awaits its answer (its settle() is the wake-up). */
  waitMs(n: number): number {
    const at = Math.max(this.freeAt(n), this.paceAt());
    return at === Number.POSITIVE_INFINITY ? at : Math.max(0, Math.ceil(at - this.clock()));
  }
}
