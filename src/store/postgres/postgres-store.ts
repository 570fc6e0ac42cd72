import type pg from 'pg';
import type { Logger } from 'pino';
import { BridgeError } from '../../errors.js';
import type { BrokerStateRepository } from '../broker-state.js';
import type { Store, Tx } from '../store.js';
import { type StoreReadSide, StoreReads } from '../store-reads.js';
import { PgAlerts } from './alerts.js';
import { PgBrokerStateRepository } from './broker-state.js';
import { PgClaims } from './claims.js';
import { pgLib, pgTypes, Statements } from './db.js';
import { PgHistory } from './history.js';
import { PgInbound, PgKv, PgLeases } from './inbound.js';
import { migrate } from './migrations.js';
import { PgOutbox } from './outbox.js';

export const POOL_SIZE_DEFAULT = 10;
export const POOL_SIZE_MAX = 100;
/** How long a transaction or read waits for a free pooled connection before it fails. */
const CONNECT_TIMEOUT_MS = 10_000;

export interface PostgresStoreOptions {
  /** `postgres://user:password@host:port/database` (libpq URL; `?sslmode=...` etc. as node-postgres reads them) */
  url: string;
  /** Connections kept at most. Default 10. */
  poolSize?: number;
  logger?: Logger;
}

/** The URL with its password replaced, for messages and logs. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'postgres://(unparsable URL)';
  }
}

interface Open {
  pool: pg.Pool;
  reads: Statements;
  outbox: PgOutbox;
  alerts: PgAlerts;
  inbound: PgInbound;
  kv: PgKv;
  broker?: PgBrokerStateRepository;
}

/**
 * The Store on PostgreSQL (node-postgres, a bounded pool): several bridge instances share one database. Each
 * transaction runs on one pooled connection between BEGIN and COMMIT (READ COMMITTED); rows that instances
 * contend for are decided by the database (identity ids, unique keys, row locks, optimistic alert versions).
 */
export class PostgresStore extends StoreReads implements Store {
  private open: Open | undefined;

  constructor(private readonly options: PostgresStoreOptions) {
    super();
  }

  private get where(): string {
    return `store.url=${redactUrl(this.options.url)}`;
  }

  async start(): Promise<void> {
    const max = this.options.poolSize ?? POOL_SIZE_DEFAULT;
    if (!Number.isInteger(max) || max < 1 || max > POOL_SIZE_MAX)
      throw new BridgeError('ERR_STORE', `store.pool_size must be 1..${POOL_SIZE_MAX}, not ${max}`);
    const pool = new (pgLib().Pool)({
      connectionString: this.options.url,
      max,
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
      types: pgTypes,
      application_name: 'mqtt-sms-bridge',
    });
    // an idle connection the server dropped: the pool discards it and opens another when needed
    pool.on('error', (err) =>
      this.options.logger?.warn({ err: { message: err.message } }, 'idle PostgreSQL connection lost'),
    );
    try {
      const client = await pool.connect();
      try {
        await migrate(client);
      } finally {
        client.release();
      }
      const reads = new Statements(pool);
      const alerts = new PgAlerts(reads);
      await alerts.prune(Date.now());
      this.open = {
        pool,
        reads,
        outbox: new PgOutbox(reads),
        alerts,
        inbound: new PgInbound(reads),
        kv: new PgKv(reads),
      };
    } catch (err) {
      await pool.end().catch(() => undefined);
      throw new BridgeError(
        'ERR_STORE',
        `cannot open the store at ${this.where}: ${(err as Error).message}`,
        {
          cause: err,
        },
      );
    }
  }

  async stop(): Promise<void> {
    const open = this.open;
    if (!open) return;
    this.open = undefined;
    await open.broker?.flush();
    // waits for checked-out connections (running transactions) to be released
    await open.pool.end();
  }

  protected get readSide(): StoreReadSide {
    return this.o;
  }

  private get o(): Open {
    if (!this.open) throw new BridgeError('ERR_STORE', 'the store is not open');
    return this.open;
  }

  async transaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
    const { pool } = this.o;
    let client: pg.PoolClient;
    try {
      client = await pool.connect();
    } catch (err) {
      throw new BridgeError('ERR_STORE', `no connection to ${this.where}: ${(err as Error).message}`, {
        cause: err,
      });
    }
    // set when the connection may be left mid-transaction or dead: the pool then closes it instead of reusing it
    let broken: Error | undefined;
    const control = async (sql: string) => {
      try {
        await client.query(sql);
      } catch (err) {
        if (!(err instanceof pgLib().DatabaseError)) broken = err as Error;
        throw err;
      }
    };
    const rollback = () => control('ROLLBACK').catch(() => undefined);
    try {
      await control('BEGIN');
      const s = new Statements(client);
      const tx: Tx = {
        history: new PgHistory(s),
        outbox: new PgOutbox(s),
        alerts: new PgAlerts(s),
        inbound: new PgInbound(s),
        kv: new PgKv(s),
        leases: new PgLeases(s),
        claims: new PgClaims(s),
      };
      let result: T;
      try {
        result = await fn(tx);
      } catch (err) {
        await rollback();
        throw err;
      }
      if (s.failure !== undefined) {
        // PostgreSQL aborted the transaction at that statement, and COMMIT would roll back without an error
        await rollback();
        throw new BridgeError(
          'ERR_STORE',
          `the transaction was rolled back: a statement in it failed (${(s.failure as Error).message})`,
          { cause: s.failure },
        );
      }
      await control('COMMIT');
      return result;
    } finally {
      client.release(broken);
    }
  }

  /** One repository per store: its writes keep their call order on one queue. */
  brokerState(): BrokerStateRepository {
    const open = this.o;
    open.broker ??= new PgBrokerStateRepository(open.pool);
    return open.broker;
  }

  async healthy(): Promise<boolean> {
    const open = this.open;
    if (!open) return false;
    try {
      await open.reads.run('SELECT 1');
      return true;
    } catch {
      return false;
    }
  }
}
