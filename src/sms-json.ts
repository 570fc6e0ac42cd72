import type { SmsRecord } from './store/store.js';

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
    created_at: new Date(sms.createdAt).toISOString(),
    updated_at: new Date(sms.updatedAt).toISOString(),
    expires_at: new Date(sms.expiresAt).toISOString(),
  };
}

export type SmsJson = ReturnType<typeof smsJson>;
