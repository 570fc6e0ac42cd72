import type { Logger } from '../logger.js';
import type { Destinations, SmsRecord, Store } from '../store/store.js';

export interface ClaimerOptions {
  store: Store;
  owner: string;
  ttlMs: number;
  pollMs: number;
  /**
   * What the connections this instance owns can carry now and how many SMS to hold waiting for them at most
   * (claims again once half of it has gone); undefined: nothing.
   */
  destinations: () => { destinations: Destinations; limit: number } | undefined;
  sender: { enqueue(records: SmsRecord[]): void; readonly depth: Record<string, number> };
  logger: Logger;
}

/**
 * Feeds the sender in cluster mode: claims queued SMS (committed by any instance) that this instance's
 * connections can carry, on a poll and whenever woken (a local commit, a connection gained). One claim runs
 * at a time.
 */
export class Claimer {
  private readonly log: Logger;
  private timer: NodeJS.Timeout | undefined;
  private active: Promise<void> | undefined;
  private again = false;
  private scheduled = false;
  private paused = true;

  constructor(private readonly o: ClaimerOptions) {
    this.log = o.logger.child({ module: 'claimer' });
  }

  start(): void {
    this.paused = false;
    if (!this.timer) {
      this.timer = setInterval(() => this.kick(), this.o.pollMs);
      this.timer.unref();
    }
    this.kick();
  }

  /** Claims nothing more; resolves once a claim under way has handed its SMS over. */
  async pause(): Promise<void> {
    this.paused = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.active;
  }

  kick(): void {
    if (this.paused) return;
    if (this.active !== undefined) {
      this.again = true;
      return;
    }
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      if (this.paused || this.active !== undefined) return;
      this.active = this.run().finally(() => {
        this.active = undefined;
        if (this.again) {
          this.again = false;
          this.kick();
        }
      });
    });
  }

  private async run(): Promise<void> {
    const want = this.o.destinations();
    if (!want) return;
    const { destinations, limit } = want;
    const waiting = Object.values(this.o.sender.depth).reduce((a, b) => a + b, 0);
    if (waiting > limit / 2) return;
    const room = limit - waiting;
    let claimed: SmsRecord[];
    try {
      claimed = await this.o.store.transaction((tx) =>
        tx.claims.claim(this.o.owner, destinations, room, this.o.ttlMs, Date.now()),
      );
    } catch (err) {
      this.log.warn({ err }, 'could not claim queued SMS; trying again at the next poll');
      return;
    }
    if (claimed.length === 0 || this.paused) return; // paused: the next heartbeat releases these claims
    this.log.debug({ count: claimed.length }, 'claimed queued SMS');
    this.o.sender.enqueue(claimed);
    if (claimed.length === room) this.again = true;
  }
}
