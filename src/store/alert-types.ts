/** The alert policies' state as the store keeps it (src/alerts decides; the store only keeps). */

export type AlertState = 'open' | 'escalated' | 'acked' | 'resolved';
type Priority = 'critical' | 'high' | 'normal' | 'low';

export interface AlertRecord {
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
  /** bumped by every committed change; 0 for an alert never committed */
  version: number;
}

export interface AlertRecipientRecord {
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

/** An alert SMS waiting for a digest or for quiet hours to end. */
export interface HeldRecord {
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

export interface AlertChange {
  /** each alert with the version the decision started from (0: new) and the one it commits */
  alerts: ReadonlyArray<{ alert: AlertRecord; recipients: readonly AlertRecipientRecord[]; base: number }>;
  heldAdded: readonly HeldRecord[];
  heldRemoved: readonly number[];
  heldMoved: ReadonlyArray<{ phone: string; flushAt: number }>;
  sent: ReadonlyArray<{ phone: string; at: number }>;
}

export interface LoadedAlert {
  alert: AlertRecord;
  recipients: AlertRecipientRecord[];
}

export interface LoadedAlerts {
  alerts: LoadedAlert[];
  held: HeldRecord[];
  sent: Array<{ phone: string; at: number }>;
  nextAlertId: number;
  nextHeldId: number;
  lastRef: number;
}
