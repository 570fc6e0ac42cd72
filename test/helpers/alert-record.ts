import type { AlertRecord } from '../../src/store/alert-types.js';

/** An open alert's record for store tests: `extra` overrides any field. */
export const alertRecord = (id: number, version: number, extra: Partial<AlertRecord> = {}): AlertRecord => ({
  id,
  ref: String(id),
  ruleId: 'r',
  deviceId: 'd',
  label: 'd r',
  state: 'open',
  priority: 'high',
  text: 't',
  openedAt: 1,
  updatedAt: 1,
  lastSeenAt: 1,
  lastSentAt: 1,
  count: 1,
  step: 0,
  nextEscalationAt: null,
  receiptDueAt: null,
  ackedBy: null,
  ackedPhone: null,
  ackedAt: null,
  resolvedAt: null,
  resolveReason: null,
  version,
  ...extra,
});
