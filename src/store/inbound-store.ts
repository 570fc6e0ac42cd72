import type { SqliteStore } from './sqlite-store.js';

export interface InboundRecord {
  receivedAt: number;
  from: string;
  to: string;
  text: string;
  dedupeKey: string;
  outcome: string;
  detail?: string | undefined;
  deviceId?: string | undefined;
  requestId?: string | undefined;
}

export interface MoPartRecord {
  from: string;
  ref: number;
  total: number;
  seq: number;
  dataCoding: number;
  body: Buffer;
}

export interface CommandRequest {
  requestId: string;
  deviceId: string;
  command: string;
  from: string;
}

/** The inbound SMS tables (audit, MO parts, command requests) on the SQLite store. */
export class SqliteInboundStore {
  constructor(private readonly store: SqliteStore) {}

  /** The most recent audit row with this key since `since`, if any: an SMSC re-delivery. */
  async seen(dedupeKey: string, since: number): Promise<{ outcome: string } | undefined> {
    return this.store
      .statement(
        'SELECT outcome FROM inbound_sms WHERE dedupe_key = ? AND received_at >= ? ORDER BY id DESC LIMIT 1',
      )
      .get(dedupeKey, since) as { outcome: string } | undefined;
  }

  record(entry: InboundRecord, request?: CommandRequest): Promise<number> {
    return this.store.write(() => {
      const id = this.store
        .statement(
          `INSERT INTO inbound_sms (received_at, from_number, to_number, text, dedupe_key, outcome, detail, device_id, request_id)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(
          entry.receivedAt,
          entry.from,
          entry.to,
          entry.text,
          entry.dedupeKey,
          entry.outcome,
          entry.detail ?? null,
          entry.deviceId ?? null,
          entry.requestId ?? null,
        ).lastInsertRowid;
      if (request) {
        this.store
          .statement(
            'INSERT INTO command_request (request_id, device_id, command, from_number, created_at) VALUES (?, ?, ?, ?, ?)',
          )
          .run(request.requestId, request.deviceId, request.command, request.from, entry.receivedAt);
      }
      return Number(id);
    });
  }

  /** Keeps one part; returns every part of its message once all are there (and forgets them). */
  addPart(part: MoPartRecord): Promise<MoPartRecord[] | undefined> {
    return this.store.write(() => {
      this.store
        .statement(
          `INSERT OR IGNORE INTO mo_part (from_number, ref, total, seq, data_coding, body, received_at)
           VALUES (?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(part.from, part.ref, part.total, part.seq, part.dataCoding, part.body, Date.now());
      const rows = this.store
        .statement(
          'SELECT seq, data_coding, body FROM mo_part WHERE from_number = ? AND ref = ? AND total = ? ORDER BY seq',
        )
        .all(part.from, part.ref, part.total) as Array<{ seq: number; data_coding: number; body: Buffer }>;
      if (rows.length < part.total) return undefined;
      this.store
        .statement('DELETE FROM mo_part WHERE from_number = ? AND ref = ? AND total = ?')
        .run(part.from, part.ref, part.total);
      return rows.map((r) => ({ ...part, seq: r.seq, dataCoding: r.data_coding, body: r.body }));
    });
  }

  /** Parts older than `olderThan` whose message never completed, removed and returned. */
  takeStaleParts(olderThan: number): Promise<MoPartRecord[]> {
    return this.store.write(() => {
      const rows = this.store
        .statement('SELECT * FROM mo_part WHERE received_at < ? ORDER BY from_number, ref, seq')
        .all(olderThan) as Array<{
        from_number: string;
        ref: number;
        total: number;
        seq: number;
        data_coding: number;
        body: Buffer;
      }>;
      this.store.statement('DELETE FROM mo_part WHERE received_at < ?').run(olderThan);
      return rows.map((r) => ({
        from: r.from_number,
        ref: r.ref,
        total: r.total,
        seq: r.seq,
        dataCoding: r.data_coding,
        body: r.body,
      }));
    });
  }

  /**
   * The pending request with this id issued to `deviceId`, marked answered; undefined when unknown, already
   * answered or another device's (which then stays pending for its own device).
   */
  takeRequest(requestId: string, deviceId: string): Promise<CommandRequest | undefined> {
    return this.store.write(() => {
      const row = this.store
        .statement(
          'UPDATE command_request SET result_at = ? WHERE request_id = ? AND device_id = ? AND result_at IS NULL RETURNING device_id, command, from_number',
        )
        .get(Date.now(), requestId, deviceId) as
        | { device_id: string; command: string; from_number: string }
        | undefined;
      return row
        ? { requestId, deviceId: row.device_id, command: row.command, from: row.from_number }
        : undefined;
    });
  }
}
