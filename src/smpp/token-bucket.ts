/**
 * Token bucket counting SMS parts. `capacity` is the burst: a tenth of a second's worth, so that an SMSC
 * counting per second never sees more than its limit even when the bucket starts full.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;
  private rate: number;

  constructor(
    private readonly ratePerSecond: number,
    private readonly capacity = Math.max(1, Math.ceil(ratePerSecond / 10)),
    now = Date.now(),
  ) {
    this.rate = ratePerSecond;
    this.tokens = capacity;
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
      this.tokens = Math.min(this.capacity, this.tokens + ((now - this.last) * this.rate) / 1000);
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
    return need <= 0 ? 0 : Math.ceil((need * 1000) / this.rate);
  }
}
