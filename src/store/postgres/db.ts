import { createRequire } from 'node:module';
import type pg from 'pg';
import { BridgeError } from '../../errors.js';

const require = createRequire(import.meta.url);
let pgModule: typeof pg | undefined;
/** `pg`, loaded when a PostgreSQL store is used: a bridge on SQLite never loads it (~5% of its start-up). */
export function pgLib(): typeof pg {
  pgModule ??= require('pg') as typeof pg;
  return pgModule;
}

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
      : pgLib().types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
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

export { type SmsRow, toRecord } from '../rows.js';
