import { fromParked, type ParkedRow } from '../rows.js';
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
import { type Db, noSms, type SmsRow, toRecord } from './db.js';

const SQL = {
  // one statement for the whole batch; rows are inserted (and given ids) in the order of the items
  insert: `INSERT INTO sms (created_at, updated_at, to_number, text, priority, source, rule_id, device_id, alert_ref,
    expires_at, max_parts, registered_delivery, state)
   SELECT $1, $1, i.to_number, i.text, i.priority, i.source, i.rule_id, i.device_id, i.alert_ref, i.expires_at,
    i.max_parts, i.registered_delivery, 'queued'
   FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::bigint[],
    $10::int[], $11::boolean[]) WITH ORDINALITY
    AS i (to_number, text, priority, source, rule_id, device_id, alert_ref, expires_at, max_parts,
     registered_delivery, n)
   ORDER BY i.n RETURNING *`,
  get: 'SELECT * FROM sms WHERE id = $1',
  pending: `SELECT * FROM sms WHERE state = 'queued' ORDER BY id`,
  submitted: `UPDATE sms SET state = 'submitted', connection_id = $1, parts_total = $2, attempts = attempts + 1,
    submitted_at = $3, updated_at = $3, error_code = NULL, error = NULL WHERE id = $4 RETURNING *`,
  insertPart: `INSERT INTO sms_part (sms_id, seq, message_id, message_id_alt, connection_id, updated_at)
   VALUES ($1, $2, $3, $4, $5, $6)
   ON CONFLICT (sms_id, seq) DO UPDATE SET message_id = excluded.message_id, message_id_alt = excluded.message_id_alt,
    connection_id = excluded.connection_id, updated_at = excluded.updated_at, state = 'submitted', stat = NULL,
    error_code = NULL`,
  failed:
    'UPDATE sms SET state = $1, error_code = $2, error = $3, updated_at = $4, done_at = $4 WHERE id = $5 RETURNING *',
  attempt:
    'UPDATE sms SET attempts = attempts + 1, error_code = $1, error = $2, updated_at = $3 WHERE id = $4 RETURNING *',
  awaitingExact: `SELECT sms_id, seq FROM sms_part WHERE connection_id = $1 AND message_id = ANY($2::text[])
   AND state = 'submitted' AND updated_at >= $3 ORDER BY array_position($2::text[], message_id), sms_id, seq`,
  awaitingAlt: `SELECT sms_id, seq FROM sms_part WHERE connection_id = $1 AND message_id_alt = ANY($2::text[])
   AND state = 'submitted' AND updated_at >= $3 ORDER BY array_position($2::text[], message_id_alt), sms_id, seq`,
  partDone:
    'UPDATE sms_part SET state = $1, stat = $2, error_code = $3, updated_at = $4 WHERE sms_id = $5 AND seq = $6',
  // the SMS row is locked first, so two instances settling parts of one SMS count each other's parts
  lockSms: 'SELECT * FROM sms WHERE id = $1 FOR UPDATE',
  partCounts: `SELECT COUNT(*) FILTER (WHERE state = 'delivered')::int AS delivered,
    COUNT(*) FILTER (WHERE state IN ('failed', 'expired'))::int AS failed,
    COUNT(*) FILTER (WHERE state = 'expired')::int AS expired FROM sms_part WHERE sms_id = $1`,
  settle: `UPDATE sms SET state = $1, parts_delivered = $2, parts_failed = $3, error_code = COALESCE($4, error_code),
    error = COALESCE($5, error), updated_at = $6,
    done_at = CASE WHEN $1 IN ('delivered', 'failed', 'expired') THEN $6 ELSE done_at END
   WHERE id = $7 RETURNING *`,
  counts: 'SELECT state, COUNT(*) AS n FROM sms GROUP BY state',
  park: `INSERT INTO receipt_parked (connection_id, receipt_id, format, state, stat, error_code, received_at)
   VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`,
  parkKey: `INSERT INTO receipt_parked_key (parked_id, connection_id, key, kind)
   SELECT $1, $2, k.key, k.kind FROM unnest($3::text[], $4::text[]) AS k (key, kind)`,
  parkedByKey: `SELECT DISTINCT r.* FROM receipt_parked_key k JOIN receipt_parked r ON r.id = k.parked_id
   WHERE k.connection_id = $1 AND ((k.kind = 'exact' AND k.key = ANY($2::text[]))
    OR (k.kind = 'alternate' AND k.key = ANY($3::text[])))
   ORDER BY r.id`,
  unpark: 'DELETE FROM receipt_parked WHERE id = $1',
  parkedBefore: 'SELECT * FROM receipt_parked WHERE received_at < $1 ORDER BY id LIMIT 1000',
  // ids from a sequence have gaps (rolled-back inserts): keep the newest `keep` by rank, not by id arithmetic
  expireParked: `DELETE FROM receipt_parked WHERE received_at < $1
    OR id NOT IN (SELECT id FROM receipt_parked ORDER BY id DESC LIMIT $2) RETURNING *`,
  requeue: `UPDATE sms SET state = 'queued', expires_at = $1, updated_at = $2, error_code = NULL, error = NULL,
    attempts = 0, connection_id = NULL, parts_total = 0, parts_delivered = 0, parts_failed = 0, submitted_at = NULL,
    done_at = NULL
   WHERE id = $3 AND state IN ('failed', 'expired') RETURNING *`,
  forgetParts: 'DELETE FROM sms_part WHERE sms_id = $1',
  replies: `SELECT COUNT(*) AS n FROM sms WHERE to_number = $1 AND source = 'reply' AND created_at >= $2`,
} as const;

/** The SMS outbox tables on PostgreSQL: sms, its parts and their message ids, receipts that came early. */
export class PgOutbox implements OutboxRepository {
  constructor(private readonly db: Db) {}

  async enqueue(items: NewSms[]): Promise<SmsRecord[]> {
    if (items.length === 0) return [];
    const column = <T>(pick: (item: NewSms) => T) => items.map(pick);
    const rows = await this.db.rows<SmsRow>(SQL.insert, [
      Date.now(),
      column((i) => i.to),
      column((i) => i.text),
      column((i) => i.priority),
      column((i) => i.source),
      column((i) => i.ruleId ?? null),
      column((i) => i.deviceId ?? null),
      column((i) => i.alertRef ?? null),
      column((i) => i.expiresAt),
      column((i) => i.maxParts ?? null),
      column((i) => i.registeredDelivery ?? null),
    ]);
    return rows.map(toRecord).sort((a, b) => a.id - b.id);
  }

  // `seen` is not used: the row comes back with the UPDATE's round trip, which costs the same with or without it
  async markSubmitted(id: number, connectionId: string, parts: SubmittedPart[]): Promise<SmsRecord> {
    const now = Date.now();
    const row = await this.db.row<SmsRow>(SQL.submitted, [connectionId, parts.length, now, id]);
    if (!row) throw noSms(id);
    for (const part of parts)
      await this.db.run(SQL.insertPart, [
        id,
        part.seq,
        part.messageId,
        part.alternate ?? null,
        connectionId,
        now,
      ]);
    return toRecord(row);
  }

  async markFailed(
    id: number,
    state: 'failed' | 'expired',
    errorCode: number | null,
    error: string,
  ): Promise<SmsRecord> {
    const row = await this.db.row<SmsRow>(SQL.failed, [state, errorCode, error, Date.now(), id]);
    if (!row) throw noSms(id);
    return toRecord(row);
  }

  async recordAttempt(id: number, errorCode: number | null, error: string): Promise<SmsRecord> {
    const row = await this.db.row<SmsRow>(SQL.attempt, [errorCode, error, Date.now(), id]);
    if (!row) throw noSms(id);
    return toRecord(row);
  }

  async awaitingReceipt(
    connectionId: string,
    exact: readonly string[],
    alternate: readonly string[],
    since: number,
  ): Promise<{ exact: PartRef[]; alternate: PartRef[] }> {
    const find = async (sql: string, keys: readonly string[]) =>
      keys.length === 0
        ? []
        : (await this.db.rows<{ sms_id: number; seq: number }>(sql, [connectionId, keys, since])).map(
            (r) => ({
              smsId: r.sms_id,
              seq: r.seq,
            }),
          );
    return { exact: await find(SQL.awaitingExact, exact), alternate: await find(SQL.awaitingAlt, alternate) };
  }

  async settlePart(part: PartRef, outcome: ReceiptOutcome): Promise<ReceiptResult> {
    const now = Date.now();
    const locked = await this.db.row<SmsRow>(SQL.lockSms, [part.smsId]);
    if (!locked) throw noSms(part.smsId);
    const before = toRecord(locked);
    await this.db.run(SQL.partDone, [
      outcome.state,
      outcome.stat,
      outcome.errorCode,
      now,
      part.smsId,
      part.seq,
    ]);
    const counts = (await this.db.row<{ delivered: number; failed: number; expired: number }>(
      SQL.partCounts,
      [part.smsId],
    ))!;
    // A multi-part SMS is delivered when every part is, failed as soon as one part fails.
    let state: SmsState = before.state;
    if (counts.failed > 0) state = counts.expired === counts.failed ? 'expired' : 'failed';
    else if (counts.delivered >= before.partsTotal) state = 'delivered';
    const failing = outcome.state !== 'delivered';
    const row = await this.db.row<SmsRow>(SQL.settle, [
      state,
      counts.delivered,
      counts.failed,
      failing ? outcome.errorCode : null,
      failing ? `receipt ${outcome.stat}` : null,
      now,
      part.smsId,
    ]);
    const sms = toRecord(row!);
    return { sms, changed: sms.state !== before.state };
  }

  async parkReceipt(
    r: Omit<ParkedReceipt, 'id'>,
    keys: ReadonlyArray<{ key: string; kind: string }>,
  ): Promise<void> {
    const parked = await this.db.row<{ id: number }>(SQL.park, [
      r.connectionId,
      r.receiptId,
      r.format,
      r.state,
      r.stat,
      r.errorCode,
      r.receivedAt,
    ]);
    if (keys.length === 0) return;
    await this.db.run(SQL.parkKey, [
      parked!.id,
      r.connectionId,
      keys.map((k) => k.key),
      keys.map((k) => k.kind),
    ]);
  }

  async parkedFor(
    connectionId: string,
    exact: readonly string[],
    alternate: readonly string[],
  ): Promise<ParkedReceipt[]> {
    if (exact.length === 0 && alternate.length === 0) return [];
    return (await this.db.rows<ParkedRow>(SQL.parkedByKey, [connectionId, exact, alternate])).map(fromParked);
  }

  async dropParked(id: number): Promise<void> {
    await this.db.run(SQL.unpark, [id]);
  }

  async parkedBefore(before: number): Promise<ParkedReceipt[]> {
    return (await this.db.rows<ParkedRow>(SQL.parkedBefore, [before])).map(fromParked);
  }

  async expireParked(olderThan: number, keep: number): Promise<ParkedReceipt[]> {
    const rows = await this.db.rows<ParkedRow>(SQL.expireParked, [olderThan, keep]);
    return rows.map(fromParked).sort((a, b) => a.id - b.id);
  }

  async requeue(id: number, expiresAt: number): Promise<SmsRecord | undefined> {
    const row = await this.db.row<SmsRow>(SQL.requeue, [expiresAt, Date.now(), id]);
    if (!row) return undefined;
    // a late receipt for the earlier attempt must not settle the new one
    await this.db.run(SQL.forgetParts, [id]);
    return toRecord(row);
  }

  // reads (outside transactions)

  async pending(): Promise<SmsRecord[]> {
    return (await this.db.rows<SmsRow>(SQL.pending)).map(toRecord);
  }

  async get(id: number): Promise<SmsRecord | undefined> {
    const row = await this.db.row<SmsRow>(SQL.get, [id]);
    return row ? toRecord(row) : undefined;
  }

  async list(query: SmsQuery = {}): Promise<SmsRecord[]> {
    const where: string[] = [];
    const args: unknown[] = [];
    if (query.state) {
      args.push(query.state);
      where.push(`state = $${args.length}`);
    }
    if (query.to) {
      args.push(query.to);
      where.push(`to_number = $${args.length}`);
    }
    args.push(query.limit ?? 100);
    const sql = `SELECT * FROM sms ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT $${args.length}`;
    return (await this.db.rows<SmsRow>(sql, args)).map(toRecord);
  }

  async counts(): Promise<Record<SmsState, number>> {
    const counts: Record<SmsState, number> = { queued: 0, submitted: 0, delivered: 0, failed: 0, expired: 0 };
    for (const row of await this.db.rows<{ state: SmsState; n: number }>(SQL.counts))
      counts[row.state] = row.n;
    return counts;
  }

  async replies(to: string, since: number): Promise<number> {
    return (await this.db.row<{ n: number }>(SQL.replies, [to, since]))!.n;
  }
}
