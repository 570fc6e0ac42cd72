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
import { type Db, sqlState, UNIQUE_VIOLATION } from './db.js';

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
  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`;

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

  private async insert(sql: string, alertId: number, values: unknown[]): Promise<number> {
    try {
      return await this.db.run(sql, values);
    } catch (err) {
      if (sqlState(err) !== UNIQUE_VIOLATION) throw err;
      throw new BridgeError(
        'ERR_STORE_CONFLICT',
        `alert ${alertId}: its id, ref or rule and device were taken by another writer; the decision is retried`,
        { cause: err },
      );
    }
  }

  async save(change: AlertChange): Promise<void> {
    for (const { alert, recipients, base } of change.alerts) {
      const values = alertValues(alert);
      let written: number;
      if (base === 0) {
        // its id, ref or rule and device taken by another instance since this decision's book was read
        written = await this.insert(INSERT_ALERT, alert.id, values);
      } else {
        written = await this.db.run(UPDATE_ALERT, [alert.id, ...values.slice(5), base]);
      }
      if (written !== 1) throw conflict(alert, base);
      for (const r of recipients) await this.db.run(RECIPIENT, recipientValues(alert.id, r));
    }
    for (const h of change.heldAdded) {
      // a held id another instance took since this decision's book was read: the decision is stale
      await this.insert(HOLD, h.alertId, heldValues(h));
    }
    if (change.heldRemoved.length > 0) {
      const removed = await this.db.run('DELETE FROM alert_held WHERE id = ANY($1::bigint[])', [
        change.heldRemoved,
      ]);
      // flushed or dropped by another instance already: this decision is stale
      if (removed !== new Set(change.heldRemoved).size)
        throw new BridgeError('ERR_STORE_CONFLICT', 'a held alert SMS is gone; the decision is retried');
    }
    for (const m of change.heldMoved)
      await this.db.run('UPDATE alert_held SET flush_at = $1 WHERE phone = $2', [m.flushAt, m.phone]);
    if (change.sent.length > 0) {
      await this.db.run('INSERT INTO alert_sent (phone, at) SELECT * FROM unnest($1::text[], $2::bigint[])', [
        change.sent.map((x) => x.phone),
        change.sent.map((x) => x.at),
      ]);
    }
  }

  /**
   * `FOR UPDATE` in id order (the sort is below the lock, so two decisions lock shared alerts in one order and
   * cannot deadlock); under READ COMMITTED a row changed by the transaction it waited for is read as committed,
   * and one resolved meanwhile is left out. The recipients are read after the lock, so they are current too.
   */
  async lockLive(query: LiveAlertQuery): Promise<LoadedAlert[]> {
    const keys = query.keys ?? [];
    const refs = query.refs ?? [];
    if (keys.length === 0 && refs.length === 0) return [];
    const rows = await this.db.rows<AlertRow>(
      `SELECT * FROM alert WHERE state <> 'resolved'
        AND ((rule_id, device_id) IN (SELECT * FROM unnest($1::text[], $2::text[])) OR ref = ANY($3::text[]))
        ORDER BY id FOR UPDATE`,
      [keys.map((k) => k.ruleId), keys.map((k) => k.deviceId), refs],
    );
    if (rows.length === 0) return [];
    const byAlert = await this.recipients(
      'SELECT * FROM alert_recipient WHERE alert_id = ANY($1::bigint[]) ORDER BY alert_id, phone',
      [rows.map((r) => r.id)],
    );
    return rows.map((row) => ({ alert: alertFromRow(row), recipients: byAlert.get(row.id) ?? [] }));
  }

  /** Sequences: never rolled back, never the same number twice, whichever instance asks. */
  async allocate(count: number): Promise<Array<{ id: number; ref: number }>> {
    if (count <= 0) return [];
    return this.db.rows<{ id: number; ref: number }>(
      `SELECT nextval('alert_id_seq') AS id, nextval('alert_ref_seq') AS ref FROM generate_series(1, $1)`,
      [count],
    );
  }

  private async recipients(
    sql: string,
    params: unknown[] = [],
  ): Promise<Map<number, AlertRecipientRecord[]>> {
    const byAlert = new Map<number, AlertRecipientRecord[]>();
    for (const r of await this.db.rows<Record<string, unknown>>(sql, params)) {
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
    return byAlert;
  }

  async load(now: number): Promise<LoadedAlerts> {
    const rows = await this.db.rows<AlertRow>(`SELECT * FROM alert WHERE state <> 'resolved' ORDER BY id`);
    const byAlert = await this.recipients(
      `SELECT r.* FROM alert_recipient r JOIN alert a ON a.id = r.alert_id WHERE a.state <> 'resolved'
       ORDER BY r.alert_id, r.phone`,
    );
    const alerts = rows.map((row) => ({ alert: alertFromRow(row), recipients: byAlert.get(row.id) ?? [] }));
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
      [now - SENDS_KEPT_MS],
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
    await this.db.run('DELETE FROM alert_sent WHERE at <= $1', [now - SENDS_KEPT_MS]);
  }
}
