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
