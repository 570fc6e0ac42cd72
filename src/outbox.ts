import type { Events } from './events.js';
import { recordSubmit, type SubmitRecorded } from './smpp/receipt-match.js';
import type {
  NewSms,
  OutboxRepository,
  SmsRecord,
  Store,
  SubmittedPart,
  TransactionOptions,
} from './store/store.js';

/**
 * Commits SMS to the outbox and announces them (`sms.status` queued; the sender takes them from there): the
 * one path for SMS that no alert decision or inbound SMS makes (the MQTT send API, the admin API).
 */
export async function queueSms(store: Store, events: Events, items: NewSms[]): Promise<SmsRecord[]> {
  const records = await store.transaction((tx) => tx.outbox.enqueue(items));
  for (const sms of records) events.emit('sms.status', sms);
  return records;
}

/** Puts a failed or expired SMS back in the queue (admin retry), committed and announced. */
export async function requeueSms(
  store: Store,
  events: Events,
  id: number,
  expiresAt: number,
): Promise<SmsRecord | undefined> {
  const sms = await store.transaction((tx) => tx.outbox.requeue(id, expiresAt));
  if (sms) events.emit('sms.status', sms);
  return sms;
}

/** What the sender needs of the store: its outbox writes, each one transaction. */
export interface SenderStore extends Pick<OutboxRepository, 'markFailed' | 'recordAttempt'> {
  pendingSms(): Promise<SmsRecord[]>;
  /** Records a submit and applies the receipts that came before it (parked), in one transaction. */
  markSubmitted(
    id: number,
    connectionId: string,
    parts: SubmittedPart[],
    seen?: SmsRecord,
  ): Promise<SubmitRecorded>;
}

/**
 * Each of the sender's writes is nearly always one UPDATE, which fails, if at all, in that statement or before it
 * (no such SMS): `oneWrite` (see `TransactionOptions`). A multi-part SMS's parts, and the receipts parked before
 * its submit, are more writes; they commit all the same, and only a failure after them fails the group commit.
 */
const ONE_WRITE: TransactionOptions = { oneWrite: true };

export function senderStore(store: Store): SenderStore {
  return {
    pendingSms: () => store.pendingSms(),
    markSubmitted: (id, connectionId, parts, seen) =>
      store.transaction((tx) => recordSubmit(tx, id, connectionId, parts, seen), ONE_WRITE),
    markFailed: (id, state, errorCode, error) =>
      store.transaction((tx) => tx.outbox.markFailed(id, state, errorCode, error), ONE_WRITE),
    recordAttempt: (id, errorCode, error) =>
      store.transaction((tx) => tx.outbox.recordAttempt(id, errorCode, error), ONE_WRITE),
  };
}
