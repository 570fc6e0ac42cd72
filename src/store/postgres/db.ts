import pg from 'pg';
import { BridgeError } from '../../errors.js';
import type { Priority, SmsRecord, SmsState } from '../store.js';

/** What the repositories run statements on: one transaction's client, or the pool for reads. */
export interface Db {
  rows<R>(sql: string, params?: unknown[]): Promise<R[]>;
  /** The first row, if any. */
  row<R>(sql: string, params?: unknown[]): Promise<R | undefined>;
  /** Rows affected. */
  run(sql: string, params?: unknown[]): Promise<number>;
}

const INT8 = 20;

/** BIGINT (epoch ms, ids, COUNT) as a JS number: every value the store keeps is below 2^53. */
export const pgTypes = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8
      ? (v: string) => Number(v)
      : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

/**
 * Statements on one queryable. Inside a transaction the first failed statement is remembered: PostgreSQL
 * aborts the transaction there, and a COMMIT after it rolls back without an error, so the store must not
 * report that transaction as committed even when `fn` caught the error.
 */
export class Statements implements Db {
  failure: unknown;

  constructor(private readonly q: pg.Pool | pg.PoolClient) {}

  async rows<R>(sql: string, params: unknown[] = []): Promise<R[]> {
    return (await this.exec(sql, params)).rows as R[];
  }

  async row<R>(sql: string, params: unknown[] = []): Promise<R | undefined> {
    return (await this.exec(sql, params)).rows[0] as R | undefined;
  }

  async run(sql: string, params: unknown[] = []): Promise<number> {
    return (await this.exec(sql, params)).rowCount ?? 0;
  }

  private async exec(sql: string, params: unknown[]): Promise<pg.QueryResult> {
    try {
      return await this.q.query(sql, params);
    } catch (err) {
      this.failure ??= err;
      throw err;
    }
  }
}

/** PostgreSQL SQLSTATE of a driver error, if it is one. */
export function sqlState(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

export const UNIQUE_VIOLATION = '23505';

export function noSms(id: number): BridgeError {
  return new BridgeError('ERR_STORE', `no SMS with id ${id}`);
}

/** A row of the `sms` table as pg returns it (BIGINT parsed to number by `pgTypes`). */
export interface SmsRow {
  id: number;
  created_at: number;
  updated_at: number;
  to_number: string;
  text: string;
  priority: string;
  source: string;
  rule_id: string | null;
  device_id: string | null;
  alert_ref: string | null;
  expires_at: number;
  max_parts: number | null;
  registered_delivery: boolean | null;
  state: string;
  attempts: number;
  connection_id: string | null;
  error_code: number | null;
  error: string | null;
  parts_total: number;
  parts_delivered: number;
  parts_failed: number;
}

export function toRecord(row: SmsRow): SmsRecord {
  return {
    id: row.id,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    to: row.to_number,
    text: row.text,
    priority: row.priority as Priority,
    source: row.source,
    ruleId: row.rule_id ?? undefined,
    deviceId: row.device_id ?? undefined,
    alertRef: row.alert_ref ?? undefined,
    expiresAt: row.expires_at,
    maxParts: row.max_parts ?? undefined,
    registeredDelivery: row.registered_delivery ?? undefined,
    state: row.state as SmsState,
    attempts: row.attempts,
    connectionId: row.connection_id,
    errorCode: row.error_code,
    error: row.error,
    partsTotal: row.parts_total,
    partsDelivered: row.parts_delivered,
    partsFailed: row.parts_failed,
  };
}
