import { BridgeError } from '../../errors.js';
import type {
  AlertChange,
  AlertRecipientRecord,
  AlertRecord,
  HeldRecord,
  LoadedAlert,
  LoadedAlerts,
} from '../alert-types.js';
import { type AlertRow, alertFromRow, alertValues, heldValues, recipientValues } from '../rows.js';
import { type AlertRepository, type LiveAlertQuery, SENDS_KEPT_MS } from '../store.js';
import type { Statements } from './statements.js';

// Positional parameters: binding 22 named ones from a row object cost ~1.5 us more per alert (a 100,000-row loop,
// 5.0-6.1 vs 3.9-4.2 us per INSERT) and the object itself. And as arguments (`run(...values)`), not one array:
// better-sqlite3 reads an array's elements one by one through V8's API (`BindArray`: `arr->Get` each), ~50-95 ns
// each; the arguments it reads directly (22 values: 4.8-5.5 against 2.8-3.8 us per call, bench/lib/bind-cost.mjs).
// `opened_at` never changes once inserted.
const UPDATE_ALERT = `UPDATE alert SET state = ?, priority = ?, text = ?, updated_at = ?, last_seen_at = ?, last_sent_at = ?,
  count = ?, step = ?, next_escalation_at = ?, receipt_due_at = ?, acked_by = ?, acked_phone = ?, acked_at = ?,
  resolved_at = ?, resolve_reason = ?, version = ?
 WHERE id = ? AND version = ?`;

/**
 * UPDATE_ALERT for a decision that leaves the state as it was (a repeat, an escalation step): `state` is not in
 * SET, so SQLite leaves the partial indexes alone (alert_live_key, alert_live_ref: their WHERE reads `state`);
 * with it in SET, each repeat rewrote both entries and dirtied their pages (a ten-line check: 11.5 KB of WAL per
 * update against 4.3 KB). Zero rows when the state moved or the version did: UPDATE_ALERT then decides.
 */
const UPDATE_ALERT_SAME_STATE = `UPDATE alert SET priority = ?, text = ?, updated_at = ?, last_seen_at = ?,
  last_sent_at = ?, count = ?, step = ?, next_escalation_at = ?, receipt_due_at = ?, acked_by = ?, acked_phone = ?,
  acked_at = ?, resolved_at = ?, resolve_reason = ?, version = ?
 WHERE id = ? AND version = ? AND state = ?`;

const INSERT_ALERT = `INSERT INTO alert (id, ref, rule_id, device_id, label, state, priority, text, opened_at, updated_at,
  last_seen_at, last_sent_at, count, step, next_escalation_at, receipt_due_at, acked_by, acked_phone, acked_at,
  resolved_at, resolve_reason, version)
 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`;

/** UPDATE_ALERT's values: what a decision can change, then the row and the version it was decided on. */
function updateValues(a: AlertRecord, base: number): unknown[] {
  return [
    a.state,
    a.priority,
    a.text,
    a.updatedAt,
    a.lastSeenAt,
    a.lastSentAt,
    a.count,
    a.step,
    a.nextEscalationAt,
    a.receiptDueAt,
    a.ackedBy,
    a.ackedPhone,
    a.ackedAt,
    a.resolvedAt,
    a.resolveReason,
    a.version,
    a.id,
    base,
  ];
}

/** The alert tables. Writes are optimistic on `version`, so a decision based on an uncommitted one fails. */
export class SqliteAlerts implements AlertRepository {
  constructor(private readonly s: Statements) {}

  async save(change: AlertChange): Promise<void> {
    const recipient = this.s.get(
      // a snapshot taken before an SMS id was linked must not unlink it: ids, states and times only move on
      `INSERT INTO alert_recipient (alert_id, phone, contact_id, name, step, sms_id, sms_state, told_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (alert_id, phone) DO UPDATE SET contact_id = excluded.contact_id, name = excluded.name,
        step = excluded.step, sms_id = COALESCE(excluded.sms_id, sms_id),
        sms_state = COALESCE(excluded.sms_state, sms_state), told_at = COALESCE(excluded.told_at, told_at)`,
    );
    for (const { alert, recipients, base } of change.alerts) {
      const written =
        base === 0 ? this.insert(INSERT_ALERT, alertValues(alert), alert.id) : this.update(alert, base);
      if (written !== 1) {
        throw new BridgeError(
          'ERR_STORE_CONFLICT',
          `alert ${alert.id} is not at version ${base} in the store; the decision is retried`,
        );
      }
      for (const r of recipients) recipient.run(...recipientValues(alert.id, r));
    }
    for (const h of change.heldAdded) {
      this.insert('INSERT INTO alert_held VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)', heldValues(h), h.alertId);
    }
    const unhold = this.s.get('DELETE FROM alert_held WHERE id = ?');
    for (const id of change.heldRemoved) {
      // flushed or dropped by another writer (another instance) already: this decision is stale
      if (unhold.run(id).changes !== 1)
        throw new BridgeError('ERR_STORE_CONFLICT', `held alert SMS ${id} is gone; the decision is retried`);
    }
    const move = this.s.get('UPDATE alert_held SET flush_at = ? WHERE phone = ?');
    for (const m of change.heldMoved) move.run(m.flushAt, m.phone);
    const sent = this.s.get('INSERT INTO alert_sent (phone, at) VALUES (?, ?)');
    for (const x of change.sent) sent.run(x.phone, x.at);
  }

  /** Rows updated (0: not at version `base`): the state's own statement only when it moved. */
  private update(alert: AlertRecord, base: number): number {
    const values = updateValues(alert, base);
    // the same values without the state, then the state the row must still have
    const same = this.s.get(UPDATE_ALERT_SAME_STATE).run(...values.slice(1), alert.state).changes;
    return same === 1 ? 1 : this.s.get(UPDATE_ALERT).run(...values).changes;
  }

  /**
   * An insert whose id, ref or (rule, device) another writer (another instance on the same store) took since
   * this decision's book was read: a conflict, so the decision is made again on what is stored.
   */
  private insert(sql: string, params: unknown[], alertId: number): number {
    try {
      return this.s.get(sql).run(...params).changes;
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code !== 'SQLITE_CONSTRAINT_PRIMARYKEY' && code !== 'SQLITE_CONSTRAINT_UNIQUE') throw err;
      throw new BridgeError(
        'ERR_STORE_CONFLICT',
        `alert ${alertId}: its id, ref or rule and device were taken by another writer; the decision is retried`,
        { cause: err },
      );
    }
  }

  /** One writer: what is read here stays as read until this transaction ends. */
  async lockLive(query: LiveAlertQuery): Promise<LoadedAlert[]> {
    const byKey = this.s.get(
      `SELECT * FROM alert WHERE state <> 'resolved' AND rule_id = ? AND device_id = ?`,
    );
    const byRef = this.s.get(`SELECT * FROM alert WHERE state <> 'resolved' AND ref = ?`);
    const rows = new Map<number, AlertRow>();
    for (const k of query.keys ?? []) {
      const row = byKey.get(k.ruleId, k.deviceId) as AlertRow | undefined;
      if (row) rows.set(row.id, row);
    }
    for (const ref of query.refs ?? []) {
      const row = byRef.get(ref) as AlertRow | undefined;
      if (row) rows.set(row.id, row);
    }
    return [...rows.values()].sort((a, b) => a.id - b.id).map((row) => this.withRecipients(row));
  }

  /** After the newest alert: the transactions of one SQLite file run one at a time. */
  async allocate(count: number): Promise<Array<{ id: number; ref: number }>> {
    const last = this.s.get('SELECT id, ref FROM alert ORDER BY id DESC LIMIT 1').get() as
      | { id: number; ref: string }
      | undefined;
    const id = last?.id ?? 0;
    const ref = last ? Number(last.ref) || 0 : 0;
    return Array.from({ length: count }, (_, i) => ({ id: id + i + 1, ref: ref + i + 1 }));
  }

  private withRecipients(row: AlertRow): LoadedAlert {
    const recipients = this.s.get('SELECT * FROM alert_recipient WHERE alert_id = ?');
    return {
      alert: alertFromRow(row),
      recipients: (recipients.all(row.id) as Array<Record<string, unknown>>).map(
        (r): AlertRecipientRecord => ({
          phone: r.phone as string,
          contactId: (r.contact_id as string | null) ?? undefined,
          name: (r.name as string | null) ?? undefined,
          step: r.step as number,
          smsId: r.sms_id as number | null,
          smsState: r.sms_state as string | null,
          toldAt: r.told_at as number | null,
        }),
      ),
    };
  }

  load(now: number): LoadedAlerts {
    const rows = this.s.get(`SELECT * FROM alert WHERE state <> 'resolved' ORDER BY id`).all() as AlertRow[];
    const alerts = rows.map((row) => this.withRecipients(row));
    const held = (
      this.s.get('SELECT * FROM alert_held ORDER BY id').all() as Array<Record<string, unknown>>
    ).map(
      (r): HeldRecord => ({
        id: r.id as number,
        phone: r.phone as string,
        contactId: (r.contact_id as string | null) ?? undefined,
        name: (r.name as string | null) ?? undefined,
        alertId: r.alert_id as number,
        step: r.step as number,
        priority: r.priority as HeldRecord['priority'],
        heldAt: r.held_at as number,
        flushAt: r.flush_at as number,
      }),
    );
    const sent = this.s
      .get('SELECT phone, at FROM alert_sent WHERE at > ? ORDER BY at')
      .all(now - SENDS_KEPT_MS) as Array<{
      phone: string;
      at: number;
    }>;
    const max = (sql: string) => ((this.s.get(sql).get() as { n: number | null }).n ?? 0) + 1;
    const last = this.s.get('SELECT ref FROM alert ORDER BY id DESC LIMIT 1').get() as
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

  /** Sends older than a day say nothing to the caps any more. */
  prune(now: number): void {
    this.s.get('DELETE FROM alert_sent WHERE at <= ?').run(now - SENDS_KEPT_MS);
  }
}
