import type Database from 'better-sqlite3';
import type { Priority } from '../rules/schema.js';
import { DAY } from './clock.js';
import type { Alert, AlertRecipient, AlertState, Held } from './types.js';

/** What the alert engine needs of the SQLite store: its database and group-committed writes. */
export interface AlertDatabase {
  readonly database: Database.Database;
  /** prepared once per open database */
  statement(sql: string): Database.Statement;
  write<T>(run: () => T): Promise<T>;
}

export interface LoadedState {
  alerts: Alert[];
  held: Held[];
  sent: Array<{ phone: string; at: number }>;
  nextAlertId: number;
  nextHeldId: number;
  lastRef: number;
}

interface AlertRow {
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
}

/** SQL of the alert tables (migration in store/migrations.ts). Only the engine's own rows are touched. */
export class AlertStore {
  constructor(private readonly db: AlertDatabase) {}

  private prepare(sql: string): Database.Statement {
    return this.db.statement(sql);
  }

  load(now: number): LoadedState {
    const d = this.db.database;
    const rows = d.prepare(`SELECT * FROM alert WHERE state <> 'resolved' ORDER BY id`).all() as AlertRow[];
    const recipients = d.prepare('SELECT * FROM alert_recipient WHERE alert_id = ?');
    const alerts = rows.map((row) => {
      const alert = fromRow(row);
      for (const r of recipients.all(row.id) as Array<Record<string, unknown>>) {
        alert.recipients.set(r.phone as string, {
          phone: r.phone as string,
          contactId: (r.contact_id as string | null) ?? undefined,
          name: (r.name as string | null) ?? undefined,
          step: r.step as number,
          smsId: r.sms_id as number | null,
          smsState: r.sms_state as string | null,
          toldAt: r.told_at as number | null,
        });
      }
      return alert;
    });
    const held = (
      d.prepare('SELECT * FROM alert_held ORDER BY id').all() as Array<Record<string, unknown>>
    ).map(
      (r): Held => ({
        id: r.id as number,
        phone: r.phone as string,
        contactId: (r.contact_id as string | null) ?? undefined,
        name: (r.name as string | null) ?? undefined,
        alertId: r.alert_id as number,
        step: r.step as number,
        priority: r.priority as Priority,
        heldAt: r.held_at as number,
        flushAt: r.flush_at as number,
      }),
    );
    d.prepare('DELETE FROM alert_sent WHERE at <= ?').run(now - DAY);
    const sent = d.prepare('SELECT phone, at FROM alert_sent ORDER BY at').all() as Array<{
      phone: string;
      at: number;
    }>;
    const max = (sql: string) => ((d.prepare(sql).get() as { n: number | null }).n ?? 0) + 1;
    const last = d.prepare('SELECT ref FROM alert ORDER BY id DESC LIMIT 1').get() as
      | { ref: string }
      | undefined;
    return {
      alerts,
      held,
      sent,
      nextAlertId: max('SELECT MAX(id) AS n FROM alert'),
      nextHeldId: max('SELECT MAX(id) AS n FROM alert_held'),
      lastRef: last ? Number(last.ref) || 0 : 0,
    };
  }

  /** Writes the changes in the next group commit. */
  save(change: {
    alerts: Iterable<Alert>;
    heldAdded: readonly Held[];
    heldRemoved: readonly number[];
    heldMoved: ReadonlyArray<{ phone: string; flushAt: number }>;
    sent: ReadonlyArray<{ phone: string; at: number }>;
  }): Promise<void> {
    const alerts = [...change.alerts].map((a) => ({ row: toRow(a), recipients: [...a.recipients.values()] }));
    return this.db.write(() => {
      const upsert = this.prepare(
        `INSERT INTO alert VALUES (@id, @ref, @rule_id, @device_id, @label, @state, @priority, @text, @opened_at,
          @updated_at, @last_seen_at, @last_sent_at, @count, @step, @next_escalation_at, @receipt_due_at, @acked_by,
          @acked_phone, @acked_at, @resolved_at, @resolve_reason)
         ON CONFLICT (id) DO UPDATE SET state = excluded.state, priority = excluded.priority, text = excluded.text,
          updated_at = excluded.updated_at, last_seen_at = excluded.last_seen_at, last_sent_at = excluded.last_sent_at,
          count = excluded.count, step = excluded.step, next_escalation_at = excluded.next_escalation_at,
          receipt_due_at = excluded.receipt_due_at, acked_by = excluded.acked_by, acked_phone = excluded.acked_phone,
          acked_at = excluded.acked_at, resolved_at = excluded.resolved_at, resolve_reason = excluded.resolve_reason`,
      );
      const recipient = this.prepare(
        `INSERT OR REPLACE INTO alert_recipient (alert_id, phone, contact_id, name, step, sms_id, sms_state, told_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      );
      for (const { row, recipients } of alerts) {
        upsert.run(row);
        for (const r of recipients) {
          recipient.run(
            row.id,
            r.phone,
            r.contactId ?? null,
            r.name ?? null,
            r.step,
            r.smsId,
            r.smsState,
            r.toldAt,
          );
        }
      }
      const hold = this.prepare('INSERT INTO alert_held VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)');
      for (const h of change.heldAdded) {
        hold.run(
          h.id,
          h.phone,
          h.contactId ?? null,
          h.name ?? null,
          h.alertId,
          h.step,
          h.priority,
          h.heldAt,
          h.flushAt,
        );
      }
      const unhold = this.prepare('DELETE FROM alert_held WHERE id = ?');
      for (const id of change.heldRemoved) unhold.run(id);
      const move = this.prepare('UPDATE alert_held SET flush_at = ? WHERE phone = ?');
      for (const m of change.heldMoved) move.run(m.flushAt, m.phone);
      const sent = this.prepare('INSERT INTO alert_sent (phone, at) VALUES (?, ?)');
      for (const s of change.sent) sent.run(s.phone, s.at);
    });
  }
}

function fromRow(row: AlertRow): Alert {
  return {
    id: row.id,
    ref: row.ref,
    ruleId: row.rule_id,
    deviceId: row.device_id,
    label: row.label,
    state: row.state as AlertState,
    priority: row.priority as Priority,
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
    recipients: new Map<string, AlertRecipient>(),
  };
}

function toRow(a: Alert): AlertRow {
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
  };
}
