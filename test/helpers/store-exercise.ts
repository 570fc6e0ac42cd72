import type { AlertRecord } from '../../src/store/alert-types.js';
import { HISTORY_KINDS, type NewSms, type Store } from '../../src/store/store.js';
import { alertRecord } from './alert-record.js';

const exerciseAlert = (id: number, ref: string, version: number, now: number): AlertRecord =>
  alertRecord(id, version, {
    ref,
    ruleId: 'rule',
    deviceId: `device-${id}`,
    label: 'label',
    text: 'text',
    openedAt: now,
    updatedAt: now,
    lastSeenAt: now,
    lastSentAt: now,
    count: version,
  });

/**
 * Runs each of the store's reads and writes on SMS and alerts at least once, through the Store port: an alert
 * decision (SMS, alert, recipient, sent), submits (a part in the SMS's row, parts in sms_part), receipts looked
 * up and applied, parked receipts, a retry, a failure and a requeue, the restart's reads, the admin API's lists
 * and counts, claims, and a history purge of every kind. For the query-plan tests: they record the statements
 * this runs and check how the database reads each.
 */
export async function exerciseStore(store: Store): Promise<void> {
  const now = Date.now();
  const sms = (to: string, source = 'rule:rule'): NewSms => ({
    to,
    text: 'text',
    priority: 'normal',
    source,
    ruleId: 'rule',
    deviceId: 'device-1',
    alertRef: '1',
    expiresAt: now + 60_000,
  });
  const [allocated] = await store.transaction((tx) => tx.alerts.allocate(1));
  const { id: alertId, ref } = allocated!;
  const decided = await store.transaction(async (tx) => {
    const enqueued = await tx.outbox.enqueue([
      sms('+447700900001'),
      sms('+447700900002'),
      sms('+447700900003', 'reply'),
      sms('+447700900004'),
    ]);
    await tx.alerts.save({
      alerts: [
        {
          alert: exerciseAlert(alertId, String(ref), 1, now),
          recipients: [
            {
              phone: '+447700900001',
              contactId: 'alice',
              name: 'Alice',
              step: 0,
              smsId: enqueued[0]!.id,
              smsState: null,
              toldAt: now,
            },
          ],
          base: 0,
        },
      ],
      heldAdded: [],
      heldRemoved: [],
      heldMoved: [],
      sent: [{ phone: '+447700900001', at: now }],
    });
    return enqueued;
  });
  const [own, parted, reply, retried] = decided as [
    (typeof decided)[0],
    (typeof decided)[0],
    (typeof decided)[0],
    (typeof decided)[0],
  ];
  await store.pendingSms();
  await store.transaction((tx) => tx.claims.claim('me', { prefixes: ['+44'] }, 10, 30_000, now));
  await store.transaction((tx) => tx.claims.renew('me', 30_000, now));
  await store.transaction((tx) => tx.claims.release('me'));
  // submits: with the record seen (no row read back), and without it
  await store.transaction(
    (tx) => tx.outbox.markSubmitted(own.id, 'main', [{ seq: 1, messageId: 'aa01' }], own),
    { oneWrite: true },
  );
  await store.transaction((tx) =>
    tx.outbox.markSubmitted(parted.id, 'main', [
      { seq: 1, messageId: 'BB01', alternate: 'bb01' },
      { seq: 2, messageId: 'BB02', alternate: 'bb02' },
    ]),
  );
  await store.transaction((tx) => tx.outbox.markSubmitted(reply.id, 'main', [{ seq: 1, messageId: 'cc01' }]));
  await store.transaction((tx) => tx.outbox.recordAttempt(retried.id, 88, 'throttled'));
  await store.transaction((tx) => tx.outbox.markFailed(retried.id, 'failed', 8, 'failed'));
  await store.transaction((tx) => tx.outbox.requeue(retried.id, now + 60_000));
  // receipts
  const found = await store.transaction((tx) =>
    tx.outbox.awaitingReceipt('main', ['aa01', 'BB01', 'cc01'], ['bb02'], now - 60_000),
  );
  for (const part of [...found.exact, ...found.alternate]) {
    await store.transaction((tx) =>
      tx.outbox.settlePart(part, { state: 'delivered', stat: 'DELIVRD', errorCode: null }),
    );
  }
  const parked = { connectionId: 'main', receiptId: 'dd01', format: 'hex', state: 'delivered' as const };
  await store.transaction((tx) =>
    tx.outbox.parkReceipt({ ...parked, stat: 'DELIVRD', errorCode: null, receivedAt: now }, [
      { key: 'dd01', kind: 'exact' },
    ]),
  );
  const [park] = await store.transaction((tx) => tx.outbox.parkedFor('main', ['dd01'], []));
  await store.transaction((tx) => tx.outbox.parkedBefore(now + 1));
  if (park) await store.transaction((tx) => tx.outbox.dropParked(park.id));
  await store.transaction((tx) => tx.outbox.expireParked(now - 60_000, 1_000));
  // the alert again: locked by its key and its ref, changed, read at start
  await store.transaction(async (tx) => {
    await tx.alerts.lockLive({
      keys: [{ ruleId: 'rule', deviceId: `device-${alertId}` }],
      refs: [String(ref)],
    });
    await tx.alerts.save({
      alerts: [{ alert: exerciseAlert(alertId, String(ref), 2, now), recipients: [], base: 1 }],
      heldAdded: [],
      heldRemoved: [],
      heldMoved: [],
      sent: [],
    });
  });
  await store.loadAlerts(now);
  // the admin API and the status page
  await store.getSms(own.id);
  await store.listSms({ state: 'queued', limit: 10 });
  await store.listSms({ limit: 10 });
  await store.listSms({ to: '+447700900001', limit: 10 });
  await store.countByState();
  await store.countReplies('+447700900003', now - 60_000);
  for (const kind of HISTORY_KINDS) {
    await store.transaction((tx) => tx.history.purge(kind, now - 86_400_000, 0, 100));
  }
}
