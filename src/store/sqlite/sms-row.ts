import type { Priority, SmsRecord, SmsState } from '../store.js';

/** A row of the `sms` table as better-sqlite3 returns it. */
export interface SmsRow {
  id: number;
  created_at: number;
  updated_at: number;
  to_number: string;
  text: string;
  priority: string;
  source: string;
  rule_id: string | null;
  device_id: string | null;
  alert_ref: string | null;
  expires_at: number;
  max_parts: number | null;
  registered_delivery: number | null;
  state: string;
  attempts: number;
  connection_id: string | null;
  error_code: number | null;
  error: string | null;
  parts_total: number;
  parts_delivered: number;
  parts_failed: number;
}

export function toRecord(row: SmsRow): SmsRecord {
  return {
    id: row.id,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    to: row.to_number,
    text: row.text,
    priority: row.priority as Priority,
    source: row.source,
    ruleId: row.rule_id ?? undefined,
    deviceId: row.device_id ?? undefined,
    alertRef: row.alert_ref ?? undefined,
    expiresAt: row.expires_at,
    maxParts: row.max_parts ?? undefined,
    registeredDelivery: row.registered_delivery === null ? undefined : row.registered_delivery === 1,
    state: row.state as SmsState,
    attempts: row.attempts,
    connectionId: row.connection_id,
    errorCode: row.error_code,
    error: row.error,
    partsTotal: row.parts_total,
    partsDelivered: row.parts_delivered,
    partsFailed: row.parts_failed,
  };
}
