/**
 * Bounds on what senders can make the bridge do: wrong PINs before a lockout, reply SMS per number and in
 * total, MO parts held per sender and in all. Pure and in memory (a restart forgets them, which errs on the
 * side of the legitimate user); every map is pruned and capped.
 */

export interface PinLockoutOptions {
  /** wrong PINs from one number within `windowMs` that lock it. Default 5. */
  attempts: number;
  /** Default 15 min. */
  windowMs: number;
  /** numbers tracked at once; past it the oldest entry is forgotten. Default 10,000. */
  maxNumbers?: number;
}

/** Per number: wrong PINs in a sliding window; at `attempts` the number is locked until the oldest expires. */
export class PinLockout {
  private readonly failures = new Map<string, number[]>();

  constructor(private readonly options: PinLockoutOptions) {}

  get size(): number {
    return this.failures.size;
  }

  /** ms until this number may try a PIN again; 0 when it may now. */
  lockedFor(phone: string, now: number): number {
    const recent = this.recent(phone, now);
    if (recent.length < this.options.attempts) return 0;
    return recent[recent.length - this.options.attempts]! + this.options.windowMs - now;
  }

  /** Records a wrong PIN; returns the tries left before the lock (0: now locked). */
  fail(phone: string, now: number): number {
    const recent = this.recent(phone, now);
    recent.push(now);
    this.failures.delete(phone);
    this.failures.set(phone, recent.slice(-this.options.attempts));
    this.prune(now);
    return Math.max(0, this.options.attempts - recent.length);
  }

  /** The right PIN clears the count. */
  succeed(phone: string): void {
    this.failures.delete(phone);
  }

  private recent(phone: string, now: number): number[] {
    return (this.failures.get(phone) ?? []).filter((t) => now - t < this.options.windowMs);
  }

  private prune(now: number): void {
    const max = this.options.maxNumbers ?? 10_000;
    if (this.failures.size <= max) return;
    for (const [phone, times] of this.failures) {
      if (times.every((t) => now - t >= this.options.windowMs)) this.failures.delete(phone);
    }
    while (this.failures.size > max) this.failures.delete(this.failures.keys().next().value!);
  }
}

export interface ReplyBudgetOptions {
  /** reply SMS to one number per window. Default 10. */
  perNumber: number;
  /** reply SMS to all numbers together per window. Default 200. */
  total: number;
  /** Default 1 h. */
  windowMs: number;
}

export type ReplyVerdict = 'ok' | 'number_limit' | 'total_limit';

/**
 * Sliding-window caps on reply SMS. The map holds only numbers answered within the window, and at most
 * `total` of them are (each costs at least one of the `total` replies), so it is bounded by `total`.
 */
export class ReplyBudget {
  private readonly perNumber = new Map<string, number[]>();
  private all: number[] = [];

  constructor(private readonly options: ReplyBudgetOptions) {}

  get trackedNumbers(): number {
    return this.perNumber.size;
  }

  /** Takes one reply from the budget when there is one. */
  take(phone: string, now: number): ReplyVerdict {
    const { windowMs } = this.options;
    this.all = this.all.filter((t) => now - t < windowMs);
    const mine = (this.perNumber.get(phone) ?? []).filter((t) => now - t < windowMs);
    if (mine.length >= this.options.perNumber) return 'number_limit';
    if (this.all.length >= this.options.total) return 'total_limit';
    mine.push(now);
    this.all.push(now);
    this.perNumber.set(phone, mine);
    if (this.perNumber.size > this.options.total) this.prune(now);
    return 'ok';
  }

  private prune(now: number): void {
    for (const [phone, times] of this.perNumber) {
      if (times.every((t) => now - t >= this.options.windowMs)) this.perNumber.delete(phone);
    }
  }
}

export interface MoPartLimitsOptions {
  /** largest `total` of a concatenated MO accepted. Default 10. */
  maxTotal: number;
  /** incomplete messages one sender may have in flight. Default 5. */
  perSender: number;
  /** incomplete messages from all senders together. Default 500. */
  inFlight: number;
  /** a message incomplete for this long no longer counts (the store drops its parts). Default 10 min. */
  timeoutMs: number;
}

export interface PartHeader {
  from: string;
  ref: number;
  total: number;
  seq: number;
}

export type PartVerdict = 'ok' | 'bad_seq' | 'too_many_parts' | 'sender_limit' | 'in_flight_limit';

/** Which MO parts may be stored: numbered sensibly, and within the per-sender and total in-flight bounds. */
export class MoPartLimits {
  /** key (from, ref, total) -> first seen; insertion order is age order */
  private readonly messages = new Map<string, { from: string; at: number }>();
  private readonly bySender = new Map<string, number>();

  constructor(private readonly options: MoPartLimitsOptions) {}

  get inFlight(): number {
    return this.messages.size;
  }

  admit(part: PartHeader, now: number): PartVerdict {
    // SMPP 3.4 §5.3.2.23-24 sar_total_segments / sar_segment_seqnum: 1-based, seq within total
    if (!Number.isInteger(part.seq) || part.seq < 1 || part.seq > part.total) return 'bad_seq';
    if (part.total > this.options.maxTotal) return 'too_many_parts';
    this.expire(now);
    const key = keyOf(part);
    if (this.messages.has(key)) return 'ok';
    if ((this.bySender.get(part.from) ?? 0) >= this.options.perSender) return 'sender_limit';
    if (this.messages.size >= this.options.inFlight) return 'in_flight_limit';
    this.messages.set(key, { from: part.from, at: now });
    this.bySender.set(part.from, (this.bySender.get(part.from) ?? 0) + 1);
    return 'ok';
  }

  /** The message completed (or was dropped): it no longer counts. */
  done(part: Pick<PartHeader, 'from' | 'ref' | 'total'>): void {
    const key = keyOf(part);
    const entry = this.messages.get(key);
    if (!entry) return;
    this.messages.delete(key);
    const left = (this.bySender.get(entry.from) ?? 1) - 1;
    if (left > 0) this.bySender.set(entry.from, left);
    else this.bySender.delete(entry.from);
  }

  private expire(now: number): void {
    for (const [key, entry] of this.messages) {
      if (now - entry.at < this.options.timeoutMs) break;
      const [from, ref, total] = JSON.parse(key) as [string, number, number];
      this.done({ from, ref, total });
    }
  }
}

function keyOf(part: Pick<PartHeader, 'from' | 'ref' | 'total'>): string {
  return JSON.stringify([part.from, part.ref, part.total]);
}

const PIN_WORD = /(?<![\p{L}\p{N}])([pPｐＰ][iIｉＩ][nNｎＮ])([^\p{L}\p{N}]*)(\p{Nd}+)/gu;

/**
 * The text with every `PIN <digits>` (`PIN1234`, `pin: 1234`, full-width forms) masked as `PIN ****`, for the
 * audit row, logs and the MQTT inbound event. The parser reads PINs only in this shape.
 */
export function redactPin(text: string): string {
  return text.replace(PIN_WORD, (_m, word: string, gap: string) => `${word}${gap}****`);
}
