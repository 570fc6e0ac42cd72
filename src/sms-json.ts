import { IsoMemo } from './iso-time.js';
import type { SmsRecord } from './store/store.js';

const created = new IsoMemo();
const updated = new IsoMemo();
const expires = new IsoMemo();

/** One JSON shape per SMS: the HTTP API, the status page and the MQTT status events all use it. */
export function smsJson(sms: SmsRecord) {
  return {
    id: sms.id,
    state: sms.state,
    to: sms.to,
    text: sms.text,
    priority: sms.priority,
    source: sms.source,
    rule: sms.ruleId ?? null,
    device: sms.deviceId ?? null,
    alert_ref: sms.alertRef ?? null,
    connection: sms.connectionId,
    attempts: sms.attempts,
    error_code: sms.errorCode,
    error: sms.error,
    parts_total: sms.partsTotal,
    parts_delivered: sms.partsDelivered,
    parts_failed: sms.partsFailed,
    created_at: created.of(sms.createdAt),
    updated_at: updated.of(sms.updatedAt),
    expires_at: expires.of(sms.expiresAt),
  };
}

export type SmsJson = ReturnType<typeof smsJson>;
