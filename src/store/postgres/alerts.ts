import { BridgeError } from '../../errors.js';
import type {
  AlertChange,
  AlertRecipientRecord,
  AlertRecord,
  AlertState,
  HeldRecord,
  LoadedAlerts,
} from '../alert-types.js';
import type { AlertRepository } from '../store.js';
import { type Db, sqlState, UNIQUE_VIOLATION } from './db.js';

const DAY = 86_400_000;

const COLUMNS = [
  'id',
  'ref',
  'rule_id',
  'device_id',
  'label',
  'state',
  'priority',
  'text',
  'opened_at',
  'updated_at',
  'last_seen_at',
  'last_sent_at',
  'count',
  'step',
  'next_escalation_at',
  'receipt_due_at',
  'acked_by',
  'acked_phone',
  'acked_at',
  'resolved_at',
  'resolve_reason',
  'version',
] as const;

const INSERT_ALERT = `INSERT INTO alert (${COLUMNS.join(', ')}) VALUES (${COLUMNS.map((_, i) => `$${i + 1}`).join(', ')})`;

// id, ref, rule, device and label never change: $1 is the id, then the columns from `state` on, then the
// version the decision started from
const UPDATED = COLUMNS.slice(5);
const UPDATE_ALERT = `UPDATE alert SET ${UPDATED.map((c, i) => `${c} = $${i + 2}`).join(', ')}
  WHERE id = $1 AND version = $${UPDATED.length + 2}`;

const RECIPIENT = `INSERT INTO alert_recipient (alert_id, phone, contact_id, name, step, sms_id, sms_state, told_at)
  VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
  ON CONFLICT (alert_id, phone) DO UPDATE SET contact_id = excluded.contact_id, name = excluded.name,
   step = excluded.step, sms_id = COALESCE(excluded.sms_id, alert_recipient.sms_id),
   sms_state = COALESCE(excluded.sms_state, alert_recipient.sms_state),
   told_at = COALESCE(excluded.told_at, alert_recipient.told_at)`;

const HOLD = `INSERT INTO alert_held (id, phone, contact_id, name, alert_id, step, priority, held_at, flush_at)
  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
  ON CONFLICT (id) DO UPDATE SET phone = excluded.phone, contact_id = excluded.contact_id, name = excluded.name,
   alert_id = excluded.alert_id, step = excluded.step, priority = excluded.priority, held_at = excluded.held_at,
   flush_at = excluded.flush_at`;

function conflict(alert: AlertRecord, base: number, cause?: unknown): BridgeError {
  return new BridgeError(
    'ERR_STORE_CONFLICT',
    `alert ${alert.id} is not at version ${base} in the store; the decision is retried`,
    cause === undefined ? undefined : { cause },
  );
}

/**
 * The alert tables on PostgreSQL. Writes are optimistic on `version`: an UPDATE waits for a concurrent
 * transaction holding the row and then re-checks the version (READ COMMITTED), so of two instances deciding
 * from the same version one commits and the other gets ERR_STORE_CONFLICT; two inserts of one id likewise.
 */
export class PgAlerts implements AlertRepository {
  constructor(private readonly db: Db) {}

  async save(change: AlertChange): Promise<void> {
    for (const { alert, recipients, base } of change.alerts) {
      const values = COLUMNS.map((c) => toRow(alert)[c]);
      let written: number;
      if (base === 0) {
        try {
          written = await this.db.run(INSERT_ALERT, values);
        } catch (err) {
          if (sqlState(err) === UNIQUE_VIOLATION) throw conflict(alert, base, err);
          throw err;
        }
      } else {
        written = await this.db.run(UPDATE_ALERT, [alert.id, ...values.slice(5), base]);
      }
      if (written !== 1) throw conflict(alert, base);
      for (const r of recipients) {
        await this.db.run(RECIPIENT, [
          alert.id,
          r.phone,
          r.contactId ?? null,
          r.name ?? null,
          r.step,
          r.smsId,
          r.smsState,
          r.toldAt,
        ]);
      }
    }
    for (const h of change.heldAdded) {
      await this.db.run(HOLD, [
        h.id,
        h.phone,
        h.contactId ?? null,
        h.name ?? null,
        h.alertId,
        h.step,
        h.priority,
        h.heldAt,
        h.flushAt,
      ]);
    }
    if (change.heldRemoved.length > 0)
      await this.db.run('DELETE FROM alert_held WHERE id = ANY($1::bigint[])', [change.heldRemoved]);
    for (const m of change.heldMoved)
      await this.db.run('UPDATE alert_held SET flush_at = $1 WHERE phone = $2', [m.flushAt, m.phone]);
    if (change.sent.length > 0) {
      await this.db.run('INSERT INTO alert_sent (phone, at) SELECT * FROM unnest($1::text[], $2::bigint[])', [
        change.sent.map((x) => x.phone),
        change.sent.map((x) => x.at),
      ]);
    }
  }

  async load(now: number): Promise<LoadedAlerts> {
    const rows = await this.db.rows<AlertRow>(`SELECT * FROM alert WHERE state <> 'resolved' ORDER BY id`);
    const recipientRows = await this.db.rows<Record<string, unknown>>(
      `SELECT r.* FROM alert_recipient r JOIN alert a ON a.id = r.alert_id WHERE a.state <> 'resolved'
       ORDER BY r.alert_id, r.phone`,
    );
    const byAlert = new Map<number, AlertRecipientRecord[]>();
    for (const r of recipientRows) {
      const list = byAlert.get(r.alert_id as number) ?? [];
      list.push({
        phone: r.phone as string,
        contactId: (r.contact_id as string | null) ?? undefined,
        name: (r.name as string | null) ?? undefined,
        step: r.step as number,
        smsId: r.sms_id as number | null,
        smsState: r.sms_state as string | null,
        toldAt: r.told_at as number | null,
      });
      byAlert.set(r.alert_id as number, list);
    }
    const alerts = rows.map((row) => ({ alert: fromRow(row), recipients: byAlert.get(row.id) ?? [] }));
    const held = (await this.db.rows<Record<string, unknown>>('SELECT * FROM alert_held ORDER BY id')).map(
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
    const sent = await this.db.rows<{ phone: string; at: number }>(
      'SELECT phone, at FROM alert_sent WHERE at > $1 ORDER BY at',
      [now - DAY],
    );
    const max = async (sql: string) => ((await this.db.row<{ n: number | null }>(sql))?.n ?? 0) + 1;
    const last = await this.db.row<{ ref: string }>('SELECT ref FROM alert ORDER BY id DESC LIMIT 1');
    return {
      alerts,
      held,
      sent,
      nextAlertId: await max('SELECT MAX(id) AS n FROM alert'),
      nextHeldId: await max('SELECT MAX(id) AS n FROM alert_held'),
      lastRef: last ? Number(last.ref) || 0 : 0,
    };
  }

  /** Sends older than a day say nothing to the caps any more. */
  async prune(now: number): Promise<void> {
    await this.db.run('DELETE FROM alert_sent WHERE at <= $1', [now - DAY]);
  }
}

type AlertRow = { [K in (typeof COLUMNS)[number]]: unknown } & { id: number };

function fromRow(row: AlertRow): AlertRecord {
  return {
    id: row.id,
    ref: row.ref as string,
    ruleId: row.rule_id as string,
    deviceId: row.device_id as string,
    label: row.label as string,
    state: row.state as AlertState,
    priority: row.priority as AlertRecord['priority'],
    text: row.text as string,
    openedAt: row.opened_at as number,
    updatedAt: row.updated_at as number,
    lastSeenAt: row.last_seen_at as number,
    lastSentAt: row.last_sent_at as number | null,
    count: row.count as number,
    step: row.step as number,
    nextEscalationAt: row.next_escalation_at as number | null,
    receiptDueAt: row.receipt_due_at as number | null,
    ackedBy: row.acked_by as string | null,
    ackedPhone: row.acked_phone as string | null,
    ackedAt: row.acked_at as number | null,
    resolvedAt: row.resolved_at as number | null,
    resolveReason: row.resolve_reason as string | null,
    version: row.version as number,
  };
}

function toRow(a: AlertRecord): AlertRow {
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
