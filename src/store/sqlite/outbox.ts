import { BridgeError } from '../../errors.js';
import { fromParked, type ParkedRow, SMS_COLUMNS, smsFromValues } from '../rows.js';
import type {
  NewSms,
  OutboxRepository,
  ParkedReceipt,
  PartRef,
  ReceiptOutcome,
  ReceiptResult,
  SmsQuery,
  SmsRecord,
  SmsState,
  SubmittedPart,
} from '../store.js';
import type { Statements } from './statements.js';

/** The SMS counted by state (the store's connection, or `StateCounter`'s worker) */
export const SMS_COUNTS_SQL = 'SELECT state, COUNT(*) AS n FROM sms GROUP BY state';

/** Every state, 0 where no row has it. */
export function countsOf(rows: Array<{ state: string; n: number }>): Record<SmsState, number> {
  const counts: Record<SmsState, number> = { queued: 0, submitted: 0, delivered: 0, failed: 0, expired: 0 };
  for (const row of rows) counts[row.state as SmsState] = row.n;
  return counts;
}

const SQL = {
  // the record is built from what was inserted: no row read back (see `enqueue`)
  insert: `INSERT INTO sms (created_at, updated_at, to_number, text, priority, source, rule_id, device_id, alert_ref,
    expires_at, max_parts, registered_delivery, state, attempts, parts_total, parts_delivered, parts_failed)
   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'queued', 0, 0, 0, 0)`,
  get: `SELECT ${SMS_COLUMNS} FROM sms WHERE id = ?`,
  pending: `SELECT ${SMS_COLUMNS} FROM sms WHERE state = 'queued' ORDER BY id`,
  // the SMS's only part in its own row (`ownPart`); its parts in sms_part (`submitted`, then `insertPart`)
  submittedOwn: `UPDATE sms SET state = 'submitted', connection_id = ?, parts_total = 1, attempts = attempts + 1,
    submitted_at = ?, updated_at = ?, error_code = NULL, error = NULL, message_id = ?, message_id_alt = ?,
    part_state = 'submitted' WHERE id = ?
   RETURNING ${SMS_COLUMNS}`,
  submitted: `UPDATE sms SET state = 'submitted', connection_id = ?, parts_total = ?, attempts = attempts + 1,
    submitted_at = ?, updated_at = ?, error_code = NULL, error = NULL, message_id = NULL, message_id_alt = NULL,
    part_state = NULL WHERE id = ?
   RETURNING ${SMS_COLUMNS}`,
  // the same without RETURNING, for a caller that holds the record (`seen`): written only if the row still has the
  // seen record's attempts, expiry and part counts, which with the columns set here make up the record returned
  submittedOwnSeen: `UPDATE sms SET state = 'submitted', connection_id = ?, parts_total = 1, attempts = attempts + 1,
    submitted_at = ?, updated_at = ?, error_code = NULL, error = NULL, message_id = ?, message_id_alt = ?,
    part_state = 'submitted'
   WHERE id = ? AND attempts = ? AND expires_at = ? AND parts_delivered = ? AND parts_failed = ?`,
  submittedSeen: `UPDATE sms SET state = 'submitted', connection_id = ?, parts_total = ?, attempts = attempts + 1,
    submitted_at = ?, updated_at = ?, error_code = NULL, error = NULL, message_id = NULL, message_id_alt = NULL,
    part_state = NULL
   WHERE id = ? AND attempts = ? AND expires_at = ? AND parts_delivered = ? AND parts_failed = ?`,
  insertPart: `INSERT OR REPLACE INTO sms_part (sms_id, seq, message_id, message_id_alt, connection_id, updated_at)
   VALUES (?, ?, ?, ?, ?, ?)`,
  failed: `UPDATE sms SET state = ?, error_code = ?, error = ?, updated_at = ?, done_at = ? WHERE id = ?
   RETURNING ${SMS_COLUMNS}`,
  attempt: `UPDATE sms SET attempts = attempts + 1, error_code = ?, error = ?, updated_at = ? WHERE id = ?
   RETURNING ${SMS_COLUMNS}`,
  awaitingExact: `SELECT sms_id, seq FROM sms_part WHERE connection_id = ? AND message_id = ? AND state = 'submitted'
   AND updated_at >= ?`,
  awaitingAlt: `SELECT sms_id, seq FROM sms_part WHERE connection_id = ? AND message_id_alt = ? AND state = 'submitted'
   AND updated_at >= ?`,
  // an own part's other reading is its id itself (or none): one index serves both lookups
  ownExact: `SELECT id FROM sms WHERE connection_id = ? AND message_id = ? AND part_state = 'submitted'
   AND submitted_at >= ?`,
  ownAlt: `SELECT id FROM sms WHERE connection_id = ? AND message_id = ? AND part_state = 'submitted'
   AND message_id_alt IS NOT NULL AND submitted_at >= ?`,
  ownDone: 'UPDATE sms SET part_state = ? WHERE id = ? AND part_state IS NOT NULL',
  partDone:
    'UPDATE sms_part SET state = ?, stat = ?, error_code = ?, updated_at = ? WHERE sms_id = ? AND seq = ?',
  partCounts: `SELECT SUM(state = 'delivered') AS delivered, SUM(state IN ('failed', 'expired')) AS failed,
    SUM(state = 'expired') AS expired FROM sms_part WHERE sms_id = ?`,
  settle: `UPDATE sms SET state = ?, parts_delivered = ?, parts_failed = ?, error_code = COALESCE(?, error_code),
    error = COALESCE(?, error), updated_at = ?, done_at = CASE WHEN ? IN ('delivered', 'failed', 'expired') THEN ? ELSE done_at END
   WHERE id = ? RETURNING ${SMS_COLUMNS}`,
  counts: SMS_COUNTS_SQL,
  park: `INSERT INTO receipt_parked (connection_id, receipt_id, format, state, stat, error_code, received_at)
   VALUES (?, ?, ?, ?, ?, ?, ?)`,
  parkKey: 'INSERT INTO receipt_parked_key (parked_id, connection_id, key, kind) VALUES (?, ?, ?, ?)',
  parkedByKey: `SELECT DISTINCT r.* FROM receipt_parked_key k JOIN receipt_parked r ON r.id = k.parked_id
   WHERE k.connection_id = ? AND k.key = ? AND k.kind = ?`,
  unpark: 'DELETE FROM receipt_parked WHERE id = ?',
  anyParked: 'SELECT 1 FROM receipt_parked LIMIT 1',
  parkedBefore: 'SELECT * FROM receipt_parked WHERE received_at < ? ORDER BY id LIMIT 1000',
  parkedOld:
    'SELECT * FROM receipt_parked WHERE received_at < ? OR id <= (SELECT MAX(id) FROM receipt_parked) - ? ORDER BY id',
  requeue: `UPDATE sms SET state = 'queued', expires_at = ?, updated_at = ?, error_code = NULL, error = NULL, attempts = 0,
    connection_id = NULL, parts_total = 0, parts_delivered = 0, parts_failed = 0, submitted_at = NULL,
    done_at = NULL, message_id = NULL, message_id_alt = NULL, part_state = NULL
   WHERE id = ? AND state IN ('failed', 'expired') RETURNING ${SMS_COLUMNS}`,
  forgetParts: 'DELETE FROM sms_part WHERE sms_id = ?',
  replies: `SELECT COUNT(*) AS n FROM sms WHERE to_number = ? AND source = 'reply' AND created_at >= ?`,
} as const;

/**
 * The part an SMS keeps in its own row (columns `message_id`, `message_id_alt`, `part_state`): its only part, when
 * the id's other reading is none or the id itself. Other parts are rows of sms_part.
 */
function ownPart(parts: readonly SubmittedPart[]): SubmittedPart | undefined {
  const part = parts.length === 1 ? parts[0]! : undefined;
  return part && part.seq === 1 && (part.alternate === undefined || part.alternate === part.messageId)
    ? part
    : undefined;
}

/** The SMS outbox tables: sms, its parts and their message ids, receipts that came early. */
export class SqliteOutbox implements OutboxRepository {
  /**
   * Whether a receipt may be parked: false only once the table was seen empty, so the common case (no receipt
   * overtook its submit) costs no lookups when a submit is recorded. A rolled-back park leaves it true: harmless.
   */
  private mayHaveParked = true;

  constructor(private readonly s: Statements) {}

  async enqueue(items: NewSms[]): Promise<SmsRecord[]> {
    const now = Date.now();
    const insert = this.s.get(SQL.insert);
    return items.map((item) => {
      const registered = item.registeredDelivery === undefined ? null : item.registeredDelivery ? 1 : 0;
      const values = [
        now,
        now,
        item.to,
        item.text,
        item.priority,
        item.source,
        item.ruleId ?? null,
        item.deviceId ?? null,
        item.alertRef ?? null,
        item.expiresAt,
        item.maxParts ?? null,
        registered,
      ];
      const id = Number(insert.run(...values).lastInsertRowid);
      // the row as stored, in SMS_COLUMNS order (the contract suite reads it back and compares)
      return smsFromValues([id, ...values, 'queued', 0, null, null, null, 0, 0, 0]);
    });
  }

  async markSubmitted(
    id: number,
    connectionId: string,
    parts: SubmittedPart[],
    seen?: SmsRecord,
  ): Promise<SmsRecord> {
    const now = Date.now();
    const own = ownPart(parts);
    const alternate = own && (own.alternate === undefined ? null : own.messageId);
    let sms: SmsRecord | undefined;
    if (seen !== undefined && seen.id === id) {
      // no row read back (RETURNING is ~5 us of a ~12 us submit): the seen record with what this UPDATE sets,
      // if the row still has the seen values of the columns this UPDATE keeps (else read back below)
      const { attempts, expiresAt, partsDelivered, partsFailed } = seen;
      const changes = (
        own
          ? this.s
              .get(SQL.submittedOwnSeen)
              .run(
                connectionId,
                now,
                now,
                own.messageId,
                alternate,
                id,
                attempts,
                expiresAt,
                partsDelivered,
                partsFailed,
              )
          : this.s
              .get(SQL.submittedSeen)
              .run(connectionId, parts.length, now, now, id, attempts, expiresAt, partsDelivered, partsFailed)
      ).changes;
      if (changes === 1)
        sms = {
          ...seen,
          state: 'submitted',
          connectionId,
          partsTotal: own ? 1 : parts.length,
          attempts: seen.attempts + 1,
          updatedAt: now,
          errorCode: null,
          error: null,
        };
    }
    if (sms === undefined) {
      const row = (
        own
          ? this.s.raw(SQL.submittedOwn).get(connectionId, now, now, own.messageId, alternate, id)
          : this.s.raw(SQL.submitted).get(connectionId, parts.length, now, now, id)
      ) as unknown[] | undefined;
      if (!row) throw new BridgeError('ERR_STORE', `no SMS with id ${id}`);
      sms = smsFromValues(row);
    }
    if (own) return sms;
    const insertPart = this.s.get(SQL.insertPart);
    for (const part of parts)
      insertPart.run(id, part.seq, part.messageId, part.alternate ?? null, connectionId, now);
    return sms;
  }

  async markFailed(
    id: number,
    state: 'failed' | 'expired',
    errorCode: number | null,
    error: string,
  ): Promise<SmsRecord> {
    const now = Date.now();
    const row = this.s.raw(SQL.failed).get(state, errorCode, error, now, now, id) as unknown[] | undefined;
    if (!row) throw new BridgeError('ERR_STORE', `no SMS with id ${id}`);
    return smsFromValues(row);
  }

  async recordAttempt(id: number, errorCode: number | null, error: string): Promise<SmsRecord> {
    const row = this.s.raw(SQL.attempt).get(errorCode, error, Date.now(), id) as unknown[] | undefined;
    if (!row) throw new BridgeError('ERR_STORE', `no SMS with id ${id}`);
    return smsFromValues(row);
  }

  async awaitingReceipt(
    connectionId: string,
    exact: readonly string[],
    alternate: readonly string[],
    since: number,
  ): Promise<{ exact: PartRef[]; alternate: PartRef[] }> {
    // parts in sms_part, then SMS whose only part is in their own row (seq 1)
    const find = (parts: string, own: string, keys: readonly string[]) =>
      keys.flatMap((key) => [
        ...(this.s.get(parts).all(connectionId, key, since) as Array<{ sms_id: number; seq: number }>).map(
          (r) => ({ smsId: r.sms_id, seq: r.seq }),
        ),
        ...(this.s.get(own).all(connectionId, key, since) as Array<{ id: number }>).map((r) => ({
          smsId: r.id,
          seq: 1,
        })),
      ]);
    return {
      exact: find(SQL.awaitingExact, SQL.ownExact, exact),
      alternate: find(SQL.awaitingAlt, SQL.ownAlt, alternate),
    };
  }

  async settlePart(part: PartRef, outcome: ReceiptOutcome): Promise<ReceiptResult> {
    return this.settle(part.smsId, part.seq, outcome);
  }

  async parkReceipt(
    r: Omit<ParkedReceipt, 'id'>,
    keys: ReadonlyArray<{ key: string; kind: string }>,
  ): Promise<void> {
    this.mayHaveParked = true;
    const id = this.s
      .get(SQL.park)
      .run(r.connectionId, r.receiptId, r.format, r.state, r.stat, r.errorCode, r.receivedAt).lastInsertRowid;
    const insert = this.s.get(SQL.parkKey);
    for (const k of keys) insert.run(id, r.connectionId, k.key, k.kind);
  }

  async parkedFor(
    connectionId: string,
    exact: readonly string[],
    alternate: readonly string[],
  ): Promise<ParkedReceipt[]> {
    if (!this.mayHaveParked) return [];
    if (this.s.get(SQL.anyParked).get() === undefined) {
      this.mayHaveParked = false;
      return [];
    }
    const found = new Map<number, ParkedReceipt>();
    const find = (keys: readonly string[], kind: string) => {
      for (const key of keys) {
        for (const row of this.s.get(SQL.parkedByKey).all(connectionId, key, kind) as ParkedRow[])
          found.set(row.id, fromParked(row));
      }
    };
    find(exact, 'exact');
    find(alternate, 'alternate');
    return [...found.values()].sort((a, b) => a.id - b.id);
  }

  async dropParked(id: number): Promise<void> {
    this.s.get(SQL.unpark).run(id);
  }

  async parkedBefore(before: number): Promise<ParkedReceipt[]> {
    return (this.s.get(SQL.parkedBefore).all(before) as ParkedRow[]).map(fromParked);
  }

  async expireParked(olderThan: number, keep: number): Promise<ParkedReceipt[]> {
    const rows = (this.s.get(SQL.parkedOld).all(olderThan, keep) as ParkedRow[]).map(fromParked);
    for (const r of rows) this.s.get(SQL.unpark).run(r.id);
    return rows;
  }

  async requeue(id: number, expiresAt: number): Promise<SmsRecord | undefined> {
    const row = this.s.raw(SQL.requeue).get(expiresAt, Date.now(), id) as unknown[] | undefined;
    if (!row) return undefined;
    // a late receipt for the earlier attempt must not settle the new one
    this.s.get(SQL.forgetParts).run(id);
    return smsFromValues(row);
  }

  // reads (outside transactions)

  pending(): SmsRecord[] {
    return (this.s.raw(SQL.pending).all() as unknown[][]).map(smsFromValues);
  }

  get(id: number): SmsRecord | undefined {
    const row = this.s.raw(SQL.get).get(id) as unknown[] | undefined;
    return row ? smsFromValues(row) : undefined;
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
    const sql = `SELECT ${SMS_COLUMNS} FROM sms ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ?`;
    return (this.s.raw(sql).all(...args, query.limit ?? 100) as unknown[][]).map(smsFromValues);
  }

  counts(): Record<SmsState, number> {
    return countsOf(this.s.get(SQL.counts).all() as Array<{ state: SmsState; n: number }>);
  }

  replies(to: string, since: number): number {
    return (this.s.get(SQL.replies).get(to, since) as { n: number }).n;
  }

  private settle(smsId: number, seq: number, update: ReceiptOutcome): ReceiptResult {
    const now = Date.now();
    // the SMS's only part in its own row, else a row of sms_part
    const own = seq === 1 && this.s.get(SQL.ownDone).run(update.state, smsId).changes === 1;
    if (!own) this.s.get(SQL.partDone).run(update.state, update.stat, update.errorCode, now, smsId, seq);
    const before = smsFromValues(this.s.raw(SQL.get).get(smsId) as unknown[]);
    const counts = own
      ? {
          delivered: update.state === 'delivered' ? 1 : 0,
          failed: update.state === 'delivered' ? 0 : 1,
          expired: update.state === 'expired' ? 1 : 0,
        }
      : (this.s.get(SQL.partCounts).get(smsId) as { delivered: number; failed: number; expired: number });
    // A multi-part SMS is delivered when every part is, failed as soon as one part fails.
    let state: SmsState = before.state;
    if (counts.failed > 0) state = counts.expired === counts.failed ? 'expired' : 'failed';
    else if (counts.delivered >= before.partsTotal) state = 'delivered';
    const failing = update.state !== 'delivered';
    const row = this.s
      .raw(SQL.settle)
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
      ) as unknown[];
    const sms = smsFromValues(row);
    return { sms, changed: sms.state !== before.state };
  }
}
