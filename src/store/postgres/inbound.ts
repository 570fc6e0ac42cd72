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
import type { Db } from './db.js';

interface PartRow {
  from_number: string;
  ref: number;
  total: number;
  seq: number;
  data_coding: number;
  body: Buffer;
}

/** The inbound SMS tables on PostgreSQL: audit, per-sender dedupe, MO parts, the device command outbox. */
export class PgInbound implements InboundRepository {
  constructor(private readonly db: Db) {}

  async lastFrom(from: string): Promise<{ dedupeKey: string; receivedAt: number } | undefined> {
    const row = await this.db.row<{ dedupe_key: string; received_at: number }>(
      'SELECT dedupe_key, received_at FROM inbound_last WHERE from_number = $1',
      [from],
    );
    return row ? { dedupeKey: row.dedupe_key, receivedAt: row.received_at } : undefined;
  }

  async record(entry: InboundAudit): Promise<number> {
    const row = await this.db.row<{ id: number }>(
      `INSERT INTO inbound_sms (received_at, from_number, to_number, text, dedupe_key, outcome, detail, device_id,
        request_id)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id`,
      [
        entry.receivedAt,
        entry.from,
        entry.to,
        entry.text,
        entry.dedupeKey,
        entry.outcome,
        entry.detail ?? null,
        entry.deviceId ?? null,
        entry.requestId ?? null,
      ],
    );
    if (entry.outcome !== 'duplicate') {
      await this.db.run(
        `INSERT INTO inbound_last (from_number, dedupe_key, received_at) VALUES ($1, $2, $3)
         ON CONFLICT (from_number) DO UPDATE SET dedupe_key = excluded.dedupe_key, received_at = excluded.received_at`,
        [entry.from, entry.dedupeKey, entry.receivedAt],
      );
    }
    return row!.id;
  }

  async addCommand(c: DeviceCommand): Promise<void> {
    await this.db.run(
      `INSERT INTO command_request (request_id, device_id, command, from_number, created_at, topic, payload)
       VALUES ($1, $2, $3, $4, $5, $6, $7)`,
      [c.requestId, c.deviceId, c.command, c.from, c.createdAt, c.topic, c.payload],
    );
  }

  async markPublished(requestId: string, at: number): Promise<void> {
    await this.db.run(
      'UPDATE command_request SET published_at = $1 WHERE request_id = $2 AND published_at IS NULL',
      [at, requestId],
    );
  }

  async takeResult(requestId: string, deviceId: string, at: number): Promise<DeviceCommand | undefined> {
    const row = await this.db.row<CommandRow>(
      `UPDATE command_request SET result_at = $1
       WHERE request_id = $2 AND device_id = $3 AND result_at IS NULL RETURNING *`,
      [at, requestId, deviceId],
    );
    return row ? toCommand(row) : undefined;
  }

  async addPart(part: MoPart): Promise<MoPart[] | undefined> {
    await this.db.run(
      `INSERT INTO mo_part (from_number, ref, total, seq, data_coding, body, received_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING`,
      [part.from, part.ref, part.total, part.seq, part.dataCoding, part.body, Date.now()],
    );
    const rows = await this.db.rows<PartRow>(
      `SELECT seq, data_coding, body FROM mo_part WHERE from_number = $1 AND ref = $2 AND total = $3
       AND seq BETWEEN 1 AND total ORDER BY seq`,
      [part.from, part.ref, part.total],
    );
    if (rows.length < part.total) return undefined;
    return rows.map((r) => ({ ...part, seq: r.seq, dataCoding: r.data_coding, body: r.body }));
  }

  async dropParts(from: string, ref: number, total: number): Promise<void> {
    await this.db.run('DELETE FROM mo_part WHERE from_number = $1 AND ref = $2 AND total = $3', [
      from,
      ref,
      total,
    ]);
  }

  async takeStaleParts(olderThan: number): Promise<MoPart[]> {
    const rows = await this.db.rows<PartRow>('DELETE FROM mo_part WHERE received_at < $1 RETURNING *', [
      olderThan,
    ]);
    const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
    rows.sort((a, b) => cmp(a.from_number, b.from_number) || a.ref - b.ref || a.seq - b.seq);
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

  async unpublished(): Promise<DeviceCommand[]> {
    return (
      await this.db.rows<CommandRow>(
        'SELECT * FROM command_request WHERE published_at IS NULL ORDER BY created_at',
      )
    ).map(toCommand);
  }
}

export class PgKv implements KeyValueRepository {
  constructor(private readonly db: Db) {}

  async put(scope: string, key: string, value: Buffer, at: number): Promise<void> {
    await this.db.run(
      `INSERT INTO kv (scope, key, value, at) VALUES ($1, $2, $3, $4)
       ON CONFLICT (scope, key) DO UPDATE SET value = excluded.value, at = excluded.at`,
      [scope, key, value, at],
    );
  }

  async putIfAbsent(scope: string, key: string, value: Buffer, at: number): Promise<Buffer> {
    // a concurrent insert of the same key makes this one wait for it, then do nothing; READ COMMITTED then
    // lets the next statement see the row that won
    await this.db.run(
      'INSERT INTO kv (scope, key, value, at) VALUES ($1, $2, $3, $4) ON CONFLICT (scope, key) DO NOTHING',
      [scope, key, value, at],
    );
    const row = await this.db.row<{ value: Buffer }>('SELECT value FROM kv WHERE scope = $1 AND key = $2', [
      scope,
      key,
    ]);
    return row!.value;
  }

  async load(scope: string): Promise<Array<{ key: string; value: Buffer; at: number }>> {
    // COLLATE "C": the byte order SQLite's ORDER BY gives, whatever the database's locale
    return this.db.rows('SELECT key, value, at FROM kv WHERE scope = $1 ORDER BY key COLLATE "C"', [scope]);
  }
}

/** Leases on the caller's clock, as in SQLite: instances' clocks must agree (NTP) within a fraction of the TTL. */
export class PgLeases implements LeaseRepository {
  constructor(private readonly db: Db) {}

  async acquire(name: string, owner: string, ttlMs: number, now: number): Promise<Lease> {
    // the conflicting row is locked by ON CONFLICT DO UPDATE, so of two instances taking one free or expired
    // lease at once the second re-checks against the first's committed row
    const taken = await this.db.row<{ owner: string; expires_at: number }>(
      `INSERT INTO lease (name, owner, expires_at) VALUES ($1, $2, $3)
       ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
       WHERE lease.owner = excluded.owner OR lease.expires_at <= $4
       RETURNING owner, expires_at`,
      [name, owner, now + ttlMs, now],
    );
    const row =
      taken ??
      (await this.db.row<{ owner: string; expires_at: number }>(
        'SELECT owner, expires_at FROM lease WHERE name = $1',
        [name],
      ));
    // released by its owner between the two statements: free now, try again
    if (!row) return this.acquire(name, owner, ttlMs, now);
    return { name, owner: row.owner, expiresAt: row.expires_at };
  }

  async release(name: string, owner: string): Promise<void> {
    await this.db.run('DELETE FROM lease WHERE name = $1 AND owner = $2', [name, owner]);
  }
}
