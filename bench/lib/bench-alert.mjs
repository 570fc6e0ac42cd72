/** An open alert record as the alert engine writes one, for the store's write-path benchmarks. */
export function benchAlert(id, deviceId, now) {
  return {
    id,
    ref: String(id),
    ruleId: 'bench',
    deviceId,
    label: deviceId,
    state: 'open',
    priority: 'normal',
    text: `A${id}`,
    openedAt: now,
    updatedAt: now,
    lastSeenAt: now,
    lastSentAt: now,
    count: 1,
    step: 0,
    nextEscalationAt: null,
    receiptDueAt: null,
    ackedBy: null,
    ackedPhone: null,
    ackedAt: null,
    resolvedAt: null,
    resolveReason: null,
    version: 1,
  };
}

/**
 * One alert decision's writes, as the alert engine makes them in its transaction: the SMS, the alert, its
 * recipient and the sent row. Returns the SMS record.
 */
export async function benchDecision(tx, id, deviceId, now) {
  const [sms] = await tx.outbox.enqueue([
    {
      to: '+447700900001',
      text: `A${id}`,
      priority: 'normal',
      source: 'rule:bench',
      ruleId: 'bench',
      deviceId,
      alertRef: String(id),
      expiresAt: now + 3_600_000,
    },
  ]);
  await tx.alerts.save({
    alerts: [
      {
        alert: benchAlert(id, deviceId, now),
        recipients: [
          {
            phone: '+447700900001',
            contactId: 'alice',
            name: 'Alice',
            step: 0,
            smsId: sms.id,
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
  return sms;
}

/** The retained alert topic's write for a new alert, as the broker's persistence gets it (`putRetained`). */
export function benchRetained(brokerState, id, deviceId) {
  const payload = JSON.stringify({ id, ref: String(id), rule: 'bench', device: deviceId, state: 'open' });
  return brokerState.putRetained({
    cmd: 'publish',
    topic: `sms-bridge/alerts/${id}`,
    payload: Buffer.from(payload),
    qos: 1,
    retain: true,
    dup: false,
    messageId: null,
    brokerId: 'b',
    brokerCounter: id,
  });
}
