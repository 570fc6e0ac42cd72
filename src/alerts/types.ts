import type { Priority } from '../rules/schema.js';
import type { AlertRecipientRecord, AlertRecord, HeldRecord } from '../store/alert-types.js';

export type { AlertState } from '../store/alert-types.js';

export type AlertRecipient = AlertRecipientRecord;

/** A live alert: its committed record (or one being committed) and who was told. */
export interface Alert extends AlertRecord {
  recipients: Recipients;
}

/**
 * An alert's recipients by phone, in the order they were added. Most alerts tell one person or a few, and each
 * live alert's recipients stay in the old generation as long as it is open (issue 14): the first is a field, the
 * others are in a `Map` made for the second (a `Map` for one costs an object and a ~150-byte table).
 */
export class Recipients {
  private first: AlertRecipient | undefined;
  private more: Map<string, AlertRecipient> | undefined;

  constructor(list?: Iterable<AlertRecipient>) {
    if (list) for (const r of list) this.set(r);
  }

  get size(): number {
    return this.first === undefined ? 0 : 1 + (this.more?.size ?? 0);
  }

  get(phone: string): AlertRecipient | undefined {
    const first = this.first;
    if (first === undefined) return undefined;
    return first.phone === phone ? first : this.more?.get(phone);
  }

  has(phone: string): boolean {
    return this.get(phone) !== undefined;
  }

  /** Adds the recipient, or replaces the one with its phone (keeping its place). */
  set(r: AlertRecipient): void {
    const first = this.first;
    if (first === undefined || first.phone === r.phone) {
      this.first = r;
      return;
    }
    this.more ??= new Map();
    this.more.set(r.phone, r);
  }

  *values(): IterableIterator<AlertRecipient> {
    if (this.first === undefined) return;
    yield this.first;
    if (this.more) yield* this.more.values();
  }
}

/** An alert SMS waiting for a digest or for quiet hours to end. */
export type Held = HeldRecord;

export type AckCode = 'acked' | 'unknown_ref' | 'already_acked' | 'not_allowed';

export interface AckResult {
  ok: boolean;
  code: AckCode;
  /** one SMS for the person who sent ACK */
  reply: string;
  alertId?: number | undefined;
  /** how many others were told who acked */
  notified: number;
}

export const PRIORITY_RANK: Record<Priority, number> = { low: 0, normal: 1, high: 2, critical: 3 };
