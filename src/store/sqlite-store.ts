import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { BridgeError } from '../errors.js';
import { migrate } from './migrations.js';
import { type SmsRow, toRecord } from './sms-row.js';
import type {
  NewSms,
  ReceiptResult,
  ReceiptUpdate,
  SmsQuery,
  SmsRecord,
  SmsState,
  Store,
  SubmittedPart,
} from './store.js';
import { WriteBatcher } from './write-batcher.js';

export interface SqliteStoreOptions {
  /** Database file; `:memory:` for throwaway use. */
  path: string;
  /** `full` survives power loss; `normal` survives a process crash (WAL). Default `full`. */
  synchronous?: 'full' | 'normal';
}

export class SqliteStore implements Store {
  private db: Database.Database | undefined;
  private writes: WriteBatcher | undefined;
  private statements = new Map<string, Database.Statement>();
  private stmts: ReturnType<SqliteStore['prepare']> | undefined;

  constructor(private readonly options: SqliteStoreOptions) {}

  async start(): Promise<void> {
    const { path } = this.options;
    try {
      if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
      const db = new Database(path);
      db.pragma('journal_mode = WAL');
      db.pragma(`synchronous = ${this.options.synchronous === 'normal' ? 'NORMAL' : 'FULL'}`);
      db.pragma('foreign_keys = ON');
      db.pragma('busy_timeout = 5000');
      migrate(db);
      this.db = db;
      this.writes = new WriteBatcher(db);
      this.stmts = this.prepare(db);
      this.stmts.pruneParked.run(Date.now() - 86_400_000);
    } catch (err) {
      throw new BridgeError(
        'ERR_STORE',
        `cannot open the store at store.path=${path}: ${(err as Error).message}`,
        {
          cause: err,
        },
      );
    }
  }

  async stop(): Promise<void> {
    this.writes?.flush();
    this.db?.close();
    this.db = undefined;
    this.statements = new Map();
  }

  /** The open database, for modules that keep their own tables (inbound audit, alerts). */
  get database(): Database.Database {
    if (!this.db) throw new BridgeError('ERR_STORE', 'the store is not open');
    return this.db;
  }

  /** A statement prepared once per open database (modules with their own tables prepare through this). */
  statement(sql: string): Database.Statement {
    const db = this.database;
    let statement = this.statements.get(sql);
    if (!statement) {
      statement = db.prepare(sql);
      this.statements.set(sql, statement);
    }
    return statement;
  }

  /** Runs a write inside the next group commit. */
  write<T>(run: () => T): Promise<T> {
    if (!this.writes) return Promise.reject(new BridgeError('ERR_STORE', 'the store is not open'));
    return this.writes.submit(run);
  }

  private prepare(db: Database.Database) {
    return {
      insert: db.prepare(
        `INSERT INTO sms (created_at, updated_at, to_number, text, priority, source, rule_id, device_id, alert_ref,
          expires_at, max_parts, registered_delivery, state)
         VALUES (@now, @now, @to, @text, @priority, @source, @ruleId, @deviceId, @alertRef, @expiresAt, @maxParts,
          @registeredDelivery, 'queued') RETURNING *`,
      ),
      get: db.prepare('SELECT * FROM sms WHERE id = ?'),
      pending: db.prepare(`SELECT * FROM sms WHERE state = 'queued' ORDER BY id`),
      submitted: db.prepare(
        `UPDATE sms SET state = 'submitted', connection_id = ?, parts_total = ?, attempts = attempts + 1,
          submitted_at = ?, updated_at = ?, error_code = NULL, error = NULL WHERE id = ? RETURNING *`,
      ),
      insertPart: db.prepare(
        'INSERT OR REPLACE INTO sms_part (sms_id, seq, message_id, updated_at) VALUES (?, ?, ?, ?)',
      ),
      insertForm: db.prepare('INSERT INTO message_id_form (form, sms_id, seq) VALUES (?, ?, ?)'),
      failed: db.prepare(
        `UPDATE sms SET state = ?, error_code = ?, error = ?, updated_at = ?, done_at = ? WHERE id = ? RETURNING *`,
      ),
      attempt: db.prepare(
        'UPDATE sms SET attempts = attempts + 1, error_code = ?, error = ?, updated_at = ? WHERE id = ?',
      ),
      findForm: db.prepare(
        `SELECT p.sms_id, p.seq, p.state FROM message_id_form f JOIN sms_part p ON p.sms_id = f.sms_id AND p.seq = f.seq
         WHERE f.form = ? ORDER BY f.rowid DESC LIMIT 1`,
      ),
      partDone: db.prepare(
        'UPDATE sms_part SET state = ?, stat = ?, error_code = ?, updated_at = ? WHERE sms_id = ? AND seq = ?',
      ),
      partCounts: db.prepare(
        `SELECT SUM(state = 'delivered') AS delivered, SUM(state IN ('failed', 'expired')) AS failed,
          SUM(state = 'expired') AS expired FROM sms_part WHERE sms_id = ?`,
      ),
      settle: db.prepare(
        `UPDATE sms SET state = ?, parts_delivered = ?, parts_failed = ?, error_code = COALESCE(?, error_code),
          error = COALESCE(?, error), updated_at = ?, done_at = CASE WHEN ? IN ('delivered', 'failed', 'expired') THEN ? ELSE done_at END
         WHERE id = ? RETURNING *`,
      ),
      counts: db.prepare('SELECT state, COUNT(*) AS n FROM sms GROUP BY state'),
      park: db.prepare(
        'INSERT INTO early_receipt (form, state, stat, error_code, received_at) VALUES (?, ?, ?, ?, ?)',
      ),
      parked: db.prepare('SELECT rowid, * FROM early_receipt WHERE form = ? ORDER BY rowid LIMIT 1'),
      unpark: db.prepare('DELETE FROM early_receipt WHERE rowid = ?'),
      pruneParked: db.prepare('DELETE FROM early_receipt WHERE received_at < ?'),
    };
  }

  private get s() {
    if (!this.stmts) throw new BridgeError('ERR_STORE', 'the store is not open');
    return this.stmts;
  }

  enqueueSms(items: NewSms[]): Promise<SmsRecord[]> {
    const now = Date.now();
    return this.write(() =>
      items.map((item) =>
        toRecord(
          this.s.insert.get({
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
            registeredDelivery:
              item.registeredDelivery === undefined ? null : item.registeredDelivery ? 1 : 0,
          }) as SmsRow,
        ),
      ),
    );
  }

  async pendingSms(): Promise<SmsRecord[]> {
    return (this.s.pending.all() as SmsRow[]).map(toRecord);
  }

  markSubmitted(id: number, connectionId: string, parts: SubmittedPart[]): Promise<SmsRecord> {
    return this.write(() => {
      const now = Date.now();
      const row = this.s.submitted.get(connectionId, parts.length, now, now, id) as SmsRow | undefined;
      if (!row) throw new BridgeError('ERR_STORE', `no SMS with id ${id}`);
      for (const part of parts) {
        this.s.insertPart.run(id, part.seq, part.messageId, now);
        for (const form of part.idForms) this.s.insertForm.run(form, id, part.seq);
      }
      let record = toRecord(row);
      for (const part of parts) {
        const early = this.takeParked(part.idForms);
        if (early) record = this.settlePart(id, part.seq, early).sms;
      }
      return record;
    });
  }

  private takeParked(forms: string[]): Omit<ReceiptUpdate, 'idForms'> | undefined {
    for (const form of forms) {
      const row = this.s.parked.get(form) as
        | { rowid: number; state: ReceiptUpdate['state']; stat: string; error_code: number | null }
        | undefined;
      if (row) {
        this.s.unpark.run(row.rowid);
        return { state: row.state, stat: row.stat, errorCode: row.error_code };
      }
    }
    return undefined;
  }

  markFailed(
    id: number,
    state: 'failed' | 'expired',
    errorCode: number | null,
    error: string,
  ): Promise<SmsRecord> {
    return this.write(() => {
      const now = Date.now();
      const row = this.s.failed.get(state, errorCode, error, now, now, id) as SmsRow | undefined;
      if (!row) throw new BridgeError('ERR_STORE', `no SMS with id ${id}`);
      return toRecord(row);
    });
  }

  recordAttempt(id: number, errorCode: number | null, error: string): Promise<void> {
    return this.write(() => {
      this.s.attempt.run(errorCode, error, Date.now(), id);
    });
  }

  applyReceipt(update: ReceiptUpdate): Promise<ReceiptResult | undefined> {
    return this.write(() => {
      let part: { sms_id: number; seq: number } | undefined;
      for (const form of update.idForms) {
        part = this.s.findForm.get(form) as typeof part;
        if (part) break;
      }
      if (!part) {
        // Unknown yet: park it under its most exact form until the submit is recorded.
        const form = update.idForms[0];
        if (form !== undefined)
          this.s.park.run(form, update.state, update.stat, update.errorCode, Date.now());
        return undefined;
      }
      return this.settlePart(part.sms_id, part.seq, update);
    });
  }

  private settlePart(smsId: number, seq: number, update: Omit<ReceiptUpdate, 'idForms'>): ReceiptResult {
    const now = Date.now();
    this.s.partDone.run(update.state, update.stat, update.errorCode, now, smsId, seq);
    const before = toRecord(this.s.get.get(smsId) as SmsRow);
    const counts = this.s.partCounts.get(smsId) as { delivered: number; failed: number; expired: number };
    // A multi-part SMS is delivered when every part is, failed as soon as one part fails.
    let state: SmsState = before.state;
    if (counts.failed > 0) state = counts.expired === counts.failed ? 'expired' : 'failed';
    else if (counts.delivered >= before.partsTotal) state = 'delivered';
    const failing = update.state !== 'delivered';
    const row = this.s.settle.get(
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

  async getSms(id: number): Promise<SmsRecord | undefined> {
    const row = this.s.get.get(id) as SmsRow | undefined;
    return row ? toRecord(row) : undefined;
  }

  async listSms(query: SmsQuery = {}): Promise<SmsRecord[]> {
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
    return (this.statement(sql).all(...args, query.limit ?? 100) as SmsRow[]).map(toRecord);
  }

  async countByState(): Promise<Record<SmsState, number>> {
    const counts: Record<SmsState, number> = { queued: 0, submitted: 0, delivered: 0, failed: 0, expired: 0 };
    for (const row of this.s.counts.all() as Array<{ state: SmsState; n: number }>) counts[row.state] = row.n;
    return counts;
  }

  requeueSms(id: number, expiresAt: number): Promise<SmsRecord | undefined> {
    return this.write(() => {
      const db = this.database;
      const row = db
        .prepare(
          `UPDATE sms SET state = 'queued', expires_at = ?, updated_at = ?, error_code = NULL, error = NULL,
            connection_id = NULL, parts_total = 0, parts_delivered = 0, parts_failed = 0, submitted_at = NULL,
            done_at = NULL
           WHERE id = ? AND state IN ('failed', 'expired') RETURNING *`,
        )
        .get(expiresAt, Date.now(), id) as SmsRow | undefined;
      if (!row) return undefined;
      // a late receipt for the earlier attempt must not settle the new one
      db.prepare('DELETE FROM message_id_form WHERE sms_id = ?').run(id);
      db.prepare('DELETE FROM sms_part WHERE sms_id = ?').run(id);
      return toRecord(row);
    });
  }
}
