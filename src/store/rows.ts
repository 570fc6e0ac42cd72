/** Rows as both SQL adapters read and write them, and their records: one mapping for SQLite and PostgreSQL. */
import type { AlertRecord, AlertState } from './alert-types.js';
import type { DeviceCommand, ParkedReceipt, Priority, SmsRecord, SmsState } from './store.js';

export interface AlertRow {
  id: number;
  ref: string;
  rule_id: string;
  device_id: string;
  label: string;
  state: string;
  priority: string;
  text: string;
  opened_at: number;
  updated_at: number;
  last_seen_at: number;
  last_sent_at: number | null;
  count: number;
  step: number;
  next_escalation_at: number | null;
  receipt_due_at: number | null;
  acked_by: string | null;
  acked_phone: string | null;
  acked_at: number | null;
  resolved_at: number | null;
  resolve_reason: string | null;
  version: number;
}

export function alertFromRow(row: AlertRow): AlertRecord {
  return {
    id: row.id,
    ref: row.ref,
    ruleId: row.rule_id,
    deviceId: row.device_id,
    label: row.label,
    state: row.state as AlertState,
    priority: row.priority as AlertRecord['priority'],
    text: row.text,
    openedAt: row.opened_at,
    updatedAt: row.updated_at,
    lastSeenAt: row.last_seen_at,
    lastSentAt: row.last_sent_at,
    count: row.count,
    step: row.step,
    nextEscalationAt: row.next_escalation_at,
    receiptDueAt: row.receipt_due_at,
    ackedBy: row.acked_by,
    ackedPhone: row.acked_phone,
    ackedAt: row.acked_at,
    resolvedAt: row.resolved_at,
    resolveReason: row.resolve_reason,
    version: row.version,
  };
}

export function alertToRow(a: AlertRecord): AlertRow {
  return {
    id: a.id,
    ref: a.ref,
    rule_id: a.ruleId,
    device_id: a.deviceId,
    label: a.label,
    state: a.state,
    priority: a.priority,
    text: a.text,
    opened_at: a.openedAt,
    updated_at: a.updatedAt,
    last_seen_at: a.lastSeenAt,
    last_sent_at: a.lastSentAt,
    count: a.count,
    step: a.step,
    next_escalation_at: a.nextEscalationAt,
    receipt_due_at: a.receiptDueAt,
    acked_by: a.ackedBy,
    acked_phone: a.ackedPhone,
    acked_at: a.ackedAt,
    resolved_at: a.resolvedAt,
    resolve_reason: a.resolveReason,
    version: a.version,
  };
}

/** A row of the `sms` table (SQLite stores the flag as 0/1, PostgreSQL as a boolean; BIGINTs parsed to number). */
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
  registered_delivery: number | boolean | null;
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
    registeredDelivery: row.registered_delivery === null ? undefined : Boolean(row.registered_delivery),
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

export interface CommandRow {
  request_id: string;
  device_id: string;
  command: string;
  from_number: string;
  topic: string | null;
  payload: string | null;
  created_at: number;
}

export function toCommand(r: CommandRow): DeviceCommand {
  return {
    requestId: r.request_id,
    deviceId: r.device_id,
    command: r.command,
    from: r.from_number,
    topic: r.topic ?? '',
    payload: r.payload ?? '',
    createdAt: r.created_at,
  };
}

export interface ParkedRow {
  id: number;
  connection_id: string;
  receipt_id: string;
  format: string;
  state: ParkedReceipt['state'];
  stat: string;
  error_code: number | null;
  received_at: number;
}

export function fromParked(r: ParkedRow): ParkedReceipt {
  return {
    id: r.id,
    connectionId: r.connection_id,
    receiptId: r.receipt_id,
    format: r.format,
    state: r.state,
    stat: r.stat,
    errorCode: r.error_code,
    receivedAt: r.received_at,
  };
}
