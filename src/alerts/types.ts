import type { Priority } from '../rules/schema.js';

export type AlertState = 'open' | 'escalated' | 'acked' | 'resolved';

export interface AlertRecipient {
  phone: string;
  contactId: string | undefined;
  name: string | undefined;
  /** the escalation step that named them (0: the rule's `to`) */
  step: number;
  /** the latest SMS to them about this alert */
  smsId: number | null;
  smsState: string | null;
  /** when an SMS to them was committed; null while it waits in a digest or quiet hours */
  toldAt: number | null;
}

export interface Alert {
  id: number;
  /** what a person types: `ACK 42`; unique among alerts that are not resolved */
  ref: string;
  ruleId: string;
  /** `''` when the message named no device */
  deviceId: string;
  /** `pump-7 overheat`, for digests and notices */
  label: string;
  state: AlertState;
  priority: Priority;
  /** the rule's text as last rendered, with the ref */
  text: string;
  openedAt: number;
  updatedAt: number;
  lastSeenAt: number;
  lastSentAt: number | null;
  count: number;
  /** 0: the rule's `to`; k: `escalate[k-1]` */
  step: number;
  nextEscalationAt: number | null;
  receiptDueAt: number | null;
  ackedBy: string | null;
  ackedPhone: string | null;
  ackedAt: number | null;
  resolvedAt: number | null;
  resolveReason: string | null;
  recipients: Map<string, AlertRecipient>;
}

/** An alert SMS waiting for a digest or for quiet hours to end. */
export interface Held {
  id: number;
  phone: string;
  contactId: string | undefined;
  name: string | undefined;
  alertId: number;
  step: number;
  priority: Priority;
  heldAt: number;
  flushAt: number;
}

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
