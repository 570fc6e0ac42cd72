import { BridgeError } from '../../errors.js';
import type {
  NewSms,
  OutboxRepository,
  ReceiptResult,
  ReceiptUpdate,
  SmsQuery,
  SmsRecord,
  SmsState,
  SubmitResult,
  SubmittedPart,
} from '../store.js';
import { type SmsRow, toRecord } from './sms-row.js';
import type { Statements } from './statements.js';

/** Early receipts kept at most this long, then logged as orphaned and dropped. */
export const PARKED_RECEIPT_MAX_AGE_MS = 86_400_000;

const SQL = {
  insert: `INSERT INTO sms (created_at, updated_at, to_number, text, priority, source, rule_id, device_id, alert_ref,
    expires_at, max_parts, registered_delivery, state)
   VALUES (@now, @now, @to, @text, @priority, @source, @ruleId, @deviceId, @alertRef, @expiresAt, @maxParts,
    @registeredDelivery, 'queued') RETURNING *`,
  get: 'SELECT * FROM sms WHERE id = ?',
  pending: `SELECT * FROM sms WHERE state = 'queued' ORDER BY id`,
  submitted: `UPDATE sms SET state = 'submitted', connection_id = ?, parts_total = ?, attempts = attempts + 1,
    submitted_at = ?, updated_at = ?, error_code = NULL, error = NULL WHERE id = ? RETURNING *`,
  insertPart: 'INSERT OR REPLACE INTO sms_part (sms_id, seq, message_id, updated_at) VALUES (?, ?, ?, ?)',
  insertForm: 'INSERT INTO message_id_form (form, sms_id, seq) VALUES (?, ?, ?)',
  failed:
    'UPDATE sms SET state = ?, error_code = ?, error = ?, updated_at = ?, done_at = ? WHERE id = ? RETURNING *',
  attempt:
    'UPDATE sms SET attempts = attempts + 1, error_code = ?, error = ?, updated_at = ? WHERE id = ? RETURNING *',
  findForm: `SELECT p.sms_id, p.seq, p.state FROM message_id_form f JOIN sms_part p ON p.sms_id = f.sms_id AND p.seq = f.seq
   WHERE f.form = ? ORDER BY f.rowid DESC LIMIT 1`,
  partDone:
    'UPDATE sms_part SET state = ?, stat = ?, error_code = ?, updated_at = ? WHERE sms_id = ? AND seq = ?',
  partCounts: `SELECT SUM(state = 'delivered') AS delivered, SUM(state IN ('failed', 'expired')) AS failed,
    SUM(state = 'expired') AS expired FROM sms_part WHERE sms_id = ?`,
  settle: `UPDATE sms SET state = ?, parts_delivered = ?, parts_failed = ?, error_code = COALESCE(?, error_code),
    error = COALESCE(?, error), updated_at = ?, done_at = CASE WHEN ? IN ('delivered', 'failed', 'expired') THEN ? ELSE done_at END
   WHERE id = ? RETURNING *`,
  counts: 'SELECT state, COUNT(*) AS n FROM sms GROUP BY state',
  park: 'INSERT INTO early_receipt (form, state, stat, error_code, received_at) VALUES (?, ?, ?, ?, ?)',
  parked: 'SELECT rowid, * FROM early_receipt WHERE form = ? ORDER BY rowid LIMIT 1',
  unpark: 'DELETE FROM early_receipt WHERE rowid = ?',
  requeue: `UPDATE sms SET state = 'queued', expires_at = ?, updated_at = ?, error_code = NULL, error = NULL, attempts = 0,
    connection_id = NULL, parts_total = 0, parts_delivered = 0, parts_failed = 0, submitted_at = NULL,
    done_at = NULL
   WHERE id = ? AND state IN ('failed', 'expired') RETURNING *`,
  forgetForms: 'DELETE FROM message_id_form WHERE sms_id = ?',
  forgetParts: 'DELETE FROM sms_part WHERE sms_id = ?',
  replies: `SELECT COUNT(*) AS n FROM sms WHERE to_number = ? AND source = 'reply' AND created_at >= ?`,
} as const;

/** The SMS outbox tables: sms, its parts and their message ids, receipts that came early. */
export class SqliteOutbox implements OutboxRepository {
  constructor(private readonly s: Statements) {}

  async enqueue(items: NewSms[]): Promise<SmsRecord[]> {
    const now = Date.now();
    const insert = this.s.get(SQL.insert);
    return items.map((item) =>
      toRecord(
        insert.get({
          now,
          to: item.to,
          text: item.text,
          priority: item.priority,
          source: item.source,
          ruleId: item.ruleId ?? null,
          deviceId: item.deviceId ?? null,
          alertRef: item.alertRef ?? null,
          expiresAt: item.expiresAt,
          maxParts: item.maxParts ?? null,
          registeredDelivery: item.registeredDelivery === undefined ? null : item.registeredDelivery ? 1 : 0,
        }) as SmsRow,
      ),
    );
  }

  async markSubmitted(id: number, connectionId: string, parts: SubmittedPart[]): Promise<SubmitResult> {
    const now = Date.now();
    const row = this.s.get(SQL.submitted).get(connectionId, parts.length, now, now, id) as SmsRow | undefined;
    if (!row) throw new BridgeError('ERR_STORE', `no SMS with id ${id}`);
    const insertPart = this.s.get(SQL.insertPart);
    const insertForm = this.s.get(SQL.insertForm);
    for (const part of parts) {
      insertPart.run(id, part.seq, part.messageId, now);
      for (const form of part.idForms) insertForm.run(form, id, part.seq);
    }
    const settled: SmsRecord[] = [];
    for (const part of parts) {
      const early = this.takeParked(part.idForms);
      if (!early) continue;
      const result = this.settlePart(id, part.seq, early);
      if (result.changed) settled.push(result.sms);
    }
    return { submitted: toRecord(row), settled };
  }

  async markFailed(
    id: number,
    state: 'failed' | 'expired',
    errorCode: number | null,
    error: string,
  ): Promise<SmsRecord> {
    const now = Date.now();
    const row = this.s.get(SQL.failed).get(state, errorCode, error, now, now, id) as SmsRow | undefined;
    if (!row) throw new BridgeError('ERR_STORE', `no SMS with id ${id}`);
    return toRecord(row);
  }

  async recordAttempt(id: number, errorCode: number | null, error: string): Promise<SmsRecord> {
    const row = this.s.get(SQL.attempt).get(errorCode, error, Date.now(), id) as SmsRow | undefined;
    if (!row) throw new BridgeError('ERR_STORE', `no SMS with id ${id}`);
    return toRecord(row);
  }

  async applyReceipt(update: ReceiptUpdate): Promise<ReceiptResult | undefined> {
    let part: { sms_id: number; seq: number } | undefined;
    const find = this.s.get(SQL.findForm);
    for (const form of update.idForms) {
      part = find.get(form) as typeof part;
      if (part) break;
    }
    if (!part) {
      // Unknown yet: park it under its most exact form until the submit is recorded.
      const form = update.idForms[0];
      if (form !== undefined)
        this.s.get(SQL.park).run(form, update.state, update.stat, update.errorCode, Date.now());
      return undefined;
    }
    return this.settlePart(part.sms_id, part.seq, update);
  }

  async requeue(id: number, expiresAt: number): Promise<SmsRecord | undefined> {
    const row = this.s.get(SQL.requeue).get(expiresAt, Date.now(), id) as SmsRow | undefined;
    if (!row) return undefined;
    // a late receipt for the earlier attempt must not settle the new one
    this.s.get(SQL.forgetForms).run(id);
    this.s.get(SQL.forgetParts).run(id);
    return toRecord(row);
  }

  // reads (outside transactions)

  pending(): SmsRecord[] {
    return (this.s.get(SQL.pending).all() as SmsRow[]).map(toRecord);
  }

  get(id: number): SmsRecord | undefined {
    const row = this.s.get(SQL.get).get(id) as SmsRow | undefined;
    return row ? toRecord(row) : undefined;
  }

  list(query: SmsQuery = {}): SmsRecord[] {
    const where: string[] = [];
    const args: unknown[] = [];
    if (query.state) {
      where.push('state = ?');
      args.push(query.state);
    }
    if (query.to) {
      where.push('to_number = ?');
      args.push(query.to);
    }
    const sql = `SELECT * FROM sms ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ?`;
    return (this.s.get(sql).all(...args, query.limit ?? 100) as SmsRow[]).map(toRecord);
  }

  counts(): Record<SmsState, number> {
    const counts: Record<SmsState, number> = { queued: 0, submitted: 0, delivered: 0, failed: 0, expired: 0 };
    for (const row of this.s.get(SQL.counts).all() as Array<{ state: SmsState; n: number }>)
      counts[row.state] = row.n;
    return counts;
  }

  replies(to: string, since: number): number {
    return (this.s.get(SQL.replies).get(to, since) as { n: number }).n;
  }

  private takeParked(forms: string[]): Omit<ReceiptUpdate, 'idForms'> | undefined {
    for (const form of forms) {
      const row = this.s.get(SQL.parked).get(form) as
        | { rowid: number; state: ReceiptUpdate['state']; stat: string; error_code: number | null }
        | undefined;
      if (row) {
        this.s.get(SQL.unpark).run(row.rowid);
        return { state: row.state, stat: row.stat, errorCode: row.error_code };
      }
    }
    return undefined;
  }

  private settlePart(smsId: number, seq: number, update: Omit<ReceiptUpdate, 'idForms'>): ReceiptResult {
    const now = Date.now();
    this.s.get(SQL.partDone).run(update.state, update.stat, update.errorCode, now, smsId, seq);
    const before = toRecord(this.s.get(SQL.get).get(smsId) as SmsRow);
    const counts = this.s.get(SQL.partCounts).get(smsId) as {
      delivered: number;
      failed: number;
      expired: number;
    };
    // A multi-part SMS is delivered when every part is, failed as soon as one part fails.
    let state: SmsState = before.state;
    if (counts.failed > 0) state = counts.expired === counts.failed ? 'expired' : 'failed';
    else if (counts.delivered >= before.partsTotal) state = 'delivered';
    const failing = update.state !== 'delivered';
    const row = this.s
      .get(SQL.settle)
      .get(
        state,
        counts.delivered,
        counts.failed,
        failing ? update.errorCode : null,
        failing ? `receipt ${update.stat}` : null,
        now,
        state,
        now,
        smsId,
      ) as SmsRow;
    const sms = toRecord(row);
    return { sms, changed: sms.state !== before.state };
  }
}
