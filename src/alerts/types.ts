import type { Priority } from '../rules/schema.js';
import type { AlertRecipientRecord, AlertRecord, HeldRecord } from '../store/alert-types.js';

export type { AlertState } from '../store/alert-types.js';

export type AlertRecipient = AlertRecipientRecord;

/** A live alert: its committed record (or one being committed) and who was told. */
export interface Alert extends AlertRecord {
  recipients: Map<string, AlertRecipient>;
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
