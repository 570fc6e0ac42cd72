import { type CommandRow, toCommand } from '../rows.js';
import type {
  DeviceCommand,
  InboundAudit,
  InboundRepository,
  KeyValueRepository,
  Lease,
  LeaseRepository,
  MoPart,
} from '../store.js';
import type { Statements } from './statements.js';

/** The inbound SMS tables: audit, per-sender dedupe, MO parts, the device command outbox. */
export class SqliteInbound implements InboundRepository {
  constructor(private readonly s: Statements) {}

  lastFrom(from: string): { dedupeKey: string; receivedAt: number } | undefined {
    const row = this.s
      .get('SELECT dedupe_key, received_at FROM inbound_last WHERE from_number = ?')
      .get(from) as { dedupe_key: string; received_at: number } | undefined;
    return row ? { dedupeKey: row.dedupe_key, receivedAt: row.received_at } : undefined;
  }

  async record(entry: InboundAudit): Promise<number> {
    const id = this.s
      .get(
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
    if (entry.outcome !== 'duplicate') {
      this.s
        .get(
          `INSERT INTO inbound_last (from_number, dedupe_key, received_at) VALUES (?, ?, ?)
           ON CONFLICT (from_number) DO UPDATE SET dedupe_key = excluded.dedupe_key, received_at = excluded.received_at`,
        )
        .run(entry.from, entry.dedupeKey, entry.receivedAt);
    }
    return Number(id);
  }

  async addCommand(c: DeviceCommand): Promise<void> {
    this.s
      .get(
        `INSERT INTO command_request (request_id, device_id, command, from_number, created_at, topic, payload)
         VALUES (?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(c.requestId, c.deviceId, c.command, c.from, c.createdAt, c.topic, c.payload);
  }

  async markPublished(requestId: string, at: number): Promise<void> {
    this.s
      .get('UPDATE command_request SET published_at = ? WHERE request_id = ? AND published_at IS NULL')
      .run(at, requestId);
  }

  async takeResult(requestId: string, deviceId: string, at: number): Promise<DeviceCommand | undefined> {
    const row = this.s
      .get(
        `UPDATE command_request SET result_at = ?
         WHERE request_id = ? AND device_id = ? AND result_at IS NULL RETURNING *`,
      )
      .get(at, requestId, deviceId) as CommandRow | undefined;
    return row ? toCommand(row) : undefined;
  }

  async addPart(part: MoPart): Promise<MoPart[] | undefined> {
    this.s
      .get(
        `INSERT OR IGNORE INTO mo_part (from_number, ref, total, seq, data_coding, body, received_at)
         VALUES (?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(part.from, part.ref, part.total, part.seq, part.dataCoding, part.body, Date.now());
    const rows = this.s
      .get(
        `SELECT seq, data_coding, body FROM mo_part WHERE from_number = ? AND ref = ? AND total = ?
         AND seq BETWEEN 1 AND total ORDER BY seq`,
      )
      .all(part.from, part.ref, part.total) as Array<{ seq: number; data_coding: number; body: Buffer }>;
    if (rows.length < part.total) return undefined;
    return rows.map((r) => ({ ...part, seq: r.seq, dataCoding: r.data_coding, body: r.body }));
  }

  async dropParts(from: string, ref: number, total: number): Promise<void> {
    this.s.get('DELETE FROM mo_part WHERE from_number = ? AND ref = ? AND total = ?').run(from, ref, total);
  }

  async takeStaleParts(olderThan: number): Promise<MoPart[]> {
    const rows = this.s
      .get('SELECT * FROM mo_part WHERE received_at < ? ORDER BY from_number, ref, seq')
      .all(olderThan) as Array<{
      from_number: string;
      ref: number;
      total: number;
      seq: number;
      data_coding: number;
      body: Buffer;
    }>;
    this.s.get('DELETE FROM mo_part WHERE received_at < ?').run(olderThan);
    return rows.map((r) => ({
      from: r.from_number,
      ref: r.ref,
      total: r.total,
      seq: r.seq,
      dataCoding: r.data_coding,
      body: r.body,
    }));
  }

  // reads (outside transactions)

  unpublished(): DeviceCommand[] {
    return (
      this.s
        .get('SELECT * FROM command_request WHERE published_at IS NULL ORDER BY created_at')
        .all() as CommandRow[]
    ).map(toCommand);
  }
}

export class SqliteKv implements KeyValueRepository {
  constructor(private readonly s: Statements) {}

  async put(scope: string, key: string, value: Buffer, at: number): Promise<void> {
    this.s
      .get(
        `INSERT INTO kv (scope, key, value, at) VALUES (?, ?, ?, ?)
         ON CONFLICT (scope, key) DO UPDATE SET value = excluded.value, at = excluded.at`,
      )
      .run(scope, key, value, at);
  }

  async putIfAbsent(scope: string, key: string, value: Buffer, at: number): Promise<Buffer> {
    this.s
      .get('INSERT INTO kv (scope, key, value, at) VALUES (?, ?, ?, ?) ON CONFLICT (scope, key) DO NOTHING')
      .run(scope, key, value, at);
    return (
      this.s.get('SELECT value FROM kv WHERE scope = ? AND key = ?').get(scope, key) as { value: Buffer }
    ).value;
  }

  load(scope: string): Array<{ key: string; value: Buffer; at: number }> {
    return this.s.get('SELECT key, value, at FROM kv WHERE scope = ? ORDER BY key').all(scope) as Array<{
      key: string;
      value: Buffer;
      at: number;
    }>;
  }
}

export class SqliteLeases implements LeaseRepository {
  constructor(private readonly s: Statements) {}

  async acquire(name: string, owner: string, ttlMs: number, now: number): Promise<Lease> {
    this.s
      .get(
        `INSERT INTO lease (name, owner, expires_at) VALUES (?, ?, ?)
         ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
         WHERE lease.owner = excluded.owner OR lease.expires_at <= ?`,
      )
      .run(name, owner, now + ttlMs, now);
    const row = this.s.get('SELECT owner, expires_at FROM lease WHERE name = ?').get(name) as {
      owner: string;
      expires_at: number;
    };
    return { name, owner: row.owner, expiresAt: row.expires_at };
  }

  async release(name: string, owner: string): Promise<void> {
    this.s.get('DELETE FROM lease WHERE name = ? AND owner = ?').run(name, owner);
  }
}
