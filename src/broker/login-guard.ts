/**
 * Throttles MQTT logins so that a flood of wrong passwords can neither queue unbounded scrypt work (each check
 * costs ~16 MiB and ~50 ms of a libuv thread) nor lock a device out for long: failures per source address and per
 * user name earn a doubling back-off, during which attempts are refused without a check; checks run a few at a
 * time with a bounded queue.
 */

export interface LoginLimits {
  /** password checks running at once */
  maxConcurrent: number;
  /** logins waiting for a check; beyond, refused as busy */
  maxQueued: number;
  /** failures per key before back-off starts */
  freeFailures: number;
  backoffInitialMs: number;
  backoffMaxMs: number;
  /** keys remembered per kind (addresses, user names); oldest forgotten first */
  tracked: number;
}

export type LoginOutcome<T> =
  | { refused: false; result: T | null }
  | { refused: 'backoff' | 'busy'; result?: undefined };

interface Failures {
  count: number;
  /** back-off periods so far: the next one lasts initial * 2^level */
  level: number;
  blockedUntil: number;
  last: number;
}

/** A Map that forgets its oldest entry past `max` entries. */
class BoundedMap<V> extends Map<string, V> {
  constructor(private readonly max: number) {
    super();
  }
  override set(key: string, value: V): this {
    this.delete(key); // re-inserted last: recently failing keys are kept longest
    super.set(key, value);
    if (this.size > this.max) this.delete(this.keys().next().value as string);
    return this;
  }
}

export class LoginGuard {
  private readonly byAddress: BoundedMap<Failures>;
  private readonly byUser: BoundedMap<Failures>;
  private active = 0;
  private readonly waiting: Array<() => void> = [];
  /** password checks started, for tests and metrics */
  checks = 0;

  constructor(
    private readonly limits: LoginLimits,
    private readonly now: () => number = Date.now,
  ) {
    this.byAddress = new BoundedMap(limits.tracked);
    this.byUser = new BoundedMap(limits.tracked);
  }

  /**
   * Runs `check` (which resolves to null for a wrong login) unless the address or user name is in back-off or
   * the queue is full. Anonymous attempts (no user name) run no password check and are only throttled by address.
   */
  async attempt<T>(
    address: string,
    username: string | undefined,
    check: () => Promise<T | null>,
  ): Promise<LoginOutcome<T>> {
    const now = this.now();
    const user = username ? this.byUser.get(username) : undefined;
    if (this.blocked(this.byAddress.get(address), now) || this.blocked(user, now))
      return { refused: 'backoff' };
    if (this.active >= this.limits.maxConcurrent) {
      if (this.waiting.length >= this.limits.maxQueued) return { refused: 'busy' };
      await new Promise<void>((resolve) => this.waiting.push(resolve)); // the slot is handed over
    } else {
      this.active++;
    }
    this.checks++;
    let result: T | null;
    try {
      result = await check();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.active--;
    }
    if (result === null) {
      this.fail(this.byAddress, address);
      if (username) this.fail(this.byUser, username);
    } else if (username) {
      this.byUser.delete(username);
    }
    return { refused: false, result };
  }

  private blocked(entry: Failures | undefined, now: number): boolean {
    return entry !== undefined && entry.blockedUntil > now;
  }

  private fail(map: BoundedMap<Failures>, key: string): void {
    const now = this.now();
    const { freeFailures, backoffInitialMs, backoffMaxMs } = this.limits;
    // A key quiet for twice the longest back-off starts afresh.
    const old = map.get(key);
    const entry =
      old && now - old.last < 2 * backoffMaxMs ? old : { count: 0, level: 0, blockedUntil: 0, last: now };
    entry.count++;
    entry.last = now;
    // Checks that were already queued when the back-off began do not lengthen it: one period per episode.
    if (entry.count > freeFailures && entry.blockedUntil <= now) {
      entry.blockedUntil = now + Math.min(backoffMaxMs, backoffInitialMs * 2 ** Math.min(entry.level, 30));
      entry.level++;
    }
    map.set(key, entry);
  }
}

/**
 * At most `perWindow` log lines per `windowMs`; the next line after a quiet spell says how many were dropped.
 * Keeps a flood from turning into a disk-filling log.
 */
export class LogLimiter {
  private windowStart = 0;
  private used = 0;
  private dropped = 0;

  constructor(
    private readonly perWindow = 20,
    private readonly windowMs = 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Calls `log` with the number of lines dropped before this one, or drops it. */
  run(log: (dropped: number) => void): void {
    const now = this.now();
    if (now - this.windowStart >= this.windowMs) {
      this.windowStart = now;
      this.used = 0;
    }
    if (this.used >= this.perWindow) {
      this.dropped++;
      return;
    }
    this.used++;
    const dropped = this.dropped;
    this.dropped = 0;
    log(dropped);
  }
}
