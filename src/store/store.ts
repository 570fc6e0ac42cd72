/**
 * The store as the rest of the bridge sees it: async, so that a PostgreSQL adapter fits later.
 * SQLite (`sqlite-store.ts`) is the default.
 */

export const PRIORITIES = ['critical', 'high', 'normal', 'low'] as const;
export type Priority = (typeof PRIORITIES)[number];

export type SmsState = 'queued' | 'submitted' | 'delivered' | 'failed' | 'expired';

export interface NewSms {
  to: string;
  text: string;
  priority: Priority;
  /** what produced it: `rule:<id>`, `api`, `reply`, `test` */
  source: string;
  ruleId?: string | undefined;
  deviceId?: string | undefined;
  alertRef?: string | undefined;
  /** epoch ms after which it is failed as expired rather than sent late */
  expiresAt: number;
  maxParts?: number | undefined;
  registeredDelivery?: boolean | undefined;
}

export interface SmsRecord extends NewSms {
  id: number;
  state: SmsState;
  createdAt: number;
  updatedAt: number;
  attempts: number;
  connectionId: string | null;
  errorCode: number | null;
  error: string | null;
  partsTotal: number;
  partsDelivered: number;
  partsFailed: number;
}

export interface SubmittedPart {
  seq: number;
  messageId: string;
  /** every form the id may take in a receipt (bases, case) */
  idForms: string[];
}

export interface ReceiptUpdate {
  idForms: string[];
  state: 'delivered' | 'failed' | 'expired';
  stat: string;
  errorCode: number | null;
}

export interface ReceiptResult {
  sms: SmsRecord;
  /** the SMS changed state because of this receipt */
  changed: boolean;
}

export interface SmsQuery {
  state?: SmsState;
  to?: string;
  limit?: number;
}

export interface Store {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Commits the SMS durably (group-committed with concurrent calls) and returns them with their ids. */
  enqueueSms(items: NewSms[]): Promise<SmsRecord[]>;
  /** Every SMS still to be sent (state queued), oldest first: the sender's work after a restart. */
  pendingSms(): Promise<SmsRecord[]>;
  markSubmitted(id: number, connectionId: string, parts: SubmittedPart[]): Promise<SmsRecord>;
  markFailed(
    id: number,
    state: 'failed' | 'expired',
    errorCode: number | null,
    error: string,
  ): Promise<SmsRecord>;
  recordAttempt(id: number, errorCode: number | null, error: string): Promise<void>;
  /**
   * Applies a delivery receipt to the part it names. Undefined when no part has that id yet: the receipt is
   * kept and applied when `markSubmitted` records the id (receipts may overtake the submit_sm_resp).
   */
  applyReceipt(update: ReceiptUpdate): Promise<ReceiptResult | undefined>;
  getSms(id: number): Promise<SmsRecord | undefined>;
  listSms(query?: SmsQuery): Promise<SmsRecord[]>;
  countByState(): Promise<Record<SmsState, number>>;
  /**
   * Puts a failed or expired SMS back in the queue (admin retry) with a new expiry, forgetting its earlier
   * parts and message ids. Undefined when there is no such SMS or it is not failed or expired.
   */
  requeueSms(id: number, expiresAt: number): Promise<SmsRecord | undefined>;
}
