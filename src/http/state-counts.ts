import type { SmsState } from '../store/store.js';

/**
 * The store's SMS are counted by state at most this often for the metrics and the status page. On SQLite the count
 * reads the whole `sms_state` index: 60-250 ms at 1M SMS (issue 14, session 10), on a worker thread's connection
 * since session 11 (`StateCounter`), and `/metrics` is open to anyone who reaches the HTTP port.
 */
export const COUNTS_MIN_INTERVAL_MS = 2000;

type Counts = Record<SmsState, number>;

/**
 * SMS counts by state, read from the store again only once an SMS changed state (`changed`) and at most once per
 * `minIntervalMs`; askers meanwhile get the last counts (at most that old), and askers during a read share it.
 */
export class StateCounts {
  private value: Counts | undefined;
  private readAt = Number.NEGATIVE_INFINITY;
  private stale = true;
  private reading: Promise<Counts> | undefined;

  constructor(
    private readonly read: () => Promise<Counts>,
    private readonly minIntervalMs = COUNTS_MIN_INTERVAL_MS,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** An SMS changed state: the next ask after the interval reads the store again. */
  changed(): void {
    this.stale = true;
  }

  get(): Promise<Counts> {
    if (this.reading !== undefined) return this.reading;
    if (this.value && (!this.stale || this.now() - this.readAt < this.minIntervalMs))
      return Promise.resolve(this.value);
    // a change while this read runs marks the counts stale again
    this.stale = false;
    this.readAt = this.now();
    const reading = this.read().then(
      (counts) => {
        this.value = counts;
        return counts;
      },
      (err: unknown) => {
        this.stale = true;
        throw err;
      },
    );
    this.reading = reading;
    void reading.then(
      () => this.done(reading),
      () => this.done(reading),
    );
    return reading;
  }

  private done(reading: Promise<Counts>): void {
    if (this.reading === reading) this.reading = undefined;
  }
}
