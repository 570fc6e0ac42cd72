/**
 * Token bucket counting SMS parts. An SMSC counts its limit over a sliding second, and a bucket of capacity c
 * refilling at r lets r + c through in one, so a tenth of a second's burst drew 0x58 answers (bench/). Here
 * the burst is small (2, or a millisecond's worth at high rates: Date.now() has that resolution) and tokens
 * come back at the limit less the burst (98/s for 100/s): a sliding second never sees more than the limit, with
 * room for a part or two arriving bunched up after a stalled event loop (one token of margin was not enough on
 * a loaded machine). The second token absorbs timer lateness; with one, a 100/s link managed ~84/s.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;
  private rate: number;
  /** share of `rate` that refills, so that rate x 1 s + capacity stays within the limit */
  private readonly fill: number;

  constructor(
    private readonly ratePerSecond: number,
    private readonly capacity = Math.max(2, Math.ceil(ratePerSecond / 1000)),
    now = Date.now(),
  ) {
    this.rate = ratePerSecond;
    this.fill = Math.max(0.5, 1 - capacity / ratePerSecond);
    this.tokens = Math.min(1, capacity);
    this.last = now;
  }

  /** The current rate, lowered after throttling and ramped back up. */
  get currentRate(): number {
    return this.rate;
  }

  setRate(rate: number, now = Date.now()): void {
    this.refill(now);
    this.rate = Math.max(this.ratePerSecond / 100, Math.min(this.ratePerSecond, rate));
  }

  get maxRate(): number {
    return this.ratePerSecond;
  }

  private refill(now: number): void {
    if (now > this.last) {
      this.tokens = Math.min(this.capacity, this.tokens + ((now - this.last) * this.rate * this.fill) / 1000);
      this.last = now;
    }
  }

  /** Takes n tokens when all are there. A request larger than the burst is granted once the bucket is full. */
  tryTake(n: number, now = Date.now()): boolean {
    this.refill(now);
    const need = Math.min(n, this.capacity);
    if (this.tokens + 1e-9 < need) return false;
    this.tokens -= n;
    return true;
  }

  /** Milliseconds until n tokens are there. */
  waitMs(n: number, now = Date.now()): number {
    this.refill(now);
    const need = Math.min(n, this.capacity) - this.tokens;
    return need <= 0 ? 0 : Math.ceil((need * 1000) / (this.rate * this.fill));
  }
}
