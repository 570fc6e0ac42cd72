import { existsSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { Logger } from 'pino';
import { BridgeError } from '../../errors.js';
import type { BrokerStateRepository } from '../broker-state.js';
import type { SmsState, Store, TransactionOptions, Tx } from '../store.js';
import { type StoreReadSide, StoreReads } from '../store-reads.js';
import { SqliteAlerts } from './alerts.js';
import { SqliteBrokerStateRepository } from './broker-state.js';
import { Checkpointer } from './checkpointer.js';
import { SqliteClaims } from './claims.js';
import { SqliteHistory } from './history.js';
import { SqliteInbound, SqliteKv, SqliteLeases } from './inbound.js';
import { migrate } from './migrations.js';
import { countsOf, SMS_COUNTS_SQL, SqliteOutbox } from './outbox.js';
import { StateCounter } from './state-counter.js';
import { Statements } from './statements.js';
import { WalSync } from './wal-sync.js';
import { WriteBatcher } from './write-batcher.js';

export interface SqliteStoreOptions {
  /** Database file; `:memory:` for throwaway use. */
  path: string;
  /**
   * `full` survives power loss; `normal` survives a process crash (WAL). Default `full`: the WAL is fsynced after
   * each group commit on libuv's thread pool, and nobody is answered before it completes (`WalSync`).
   */
  synchronous?: 'full' | 'normal';
  /**
   * WAL checkpoints: `worker` (default for a file) runs them on a worker thread every `checkpointIntervalMs`
   * (default 100), `inline` leaves them to SQLite inside the commit that passes 1,000 pages (`Checkpointer`).
   */
  checkpoints?: 'worker' | 'inline';
  checkpointIntervalMs?: number;
  logger?: Logger;
}

interface Open {
  db: Database.Database;
  writes: WriteBatcher;
  tx: Tx;
  outbox: SqliteOutbox;
  alerts: SqliteAlerts;
  inbound: SqliteInbound;
  kv: SqliteKv;
  statements: Statements;
  walSync: WalSync | undefined;
  checkpointer: Checkpointer | undefined;
  /** the SMS counted by state off the event loop (a file's store only) */
  counter: StateCounter | undefined;
}

/** The default Store: one SQLite file (better-sqlite3, WAL), transactions group-committed. */
/** How long a start waits for other connections switching the same new file to WAL (SQLite's own 5 s). */
const WAL_SWITCH_WAIT_MS = 5_000;

/**
 * `journal_mode = WAL`. Several instances opening one new file at once all switch it; SQLite answers the ones
 * that meet another's switch SQLITE_BUSY at once, without its busy handler (seen: 1 start in 150 with six at
 * once on a loaded machine), so they try again every 10 ms.
 */
async function walMode(db: Database.Database): Promise<void> {
  const until = Date.now() + WAL_SWITCH_WAIT_MS;
  for (;;) {
    try {
      db.pragma('journal_mode = WAL');
      return;
    } catch (err) {
      if ((err as { code?: string }).code !== 'SQLITE_BUSY' || Date.now() >= until) throw err;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
}

export class SqliteStore extends StoreReads implements Store {
  private open: Open | undefined;

  constructor(private readonly options: SqliteStoreOptions) {
    super();
  }

  async start(): Promise<void> {
    const { path } = this.options;
    // what a failed start has opened, closed again before it throws
    let db: Database.Database | undefined;
    let walSync: WalSync | undefined;
    let checkpointer: Checkpointer | undefined;
    try {
      if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
      db = new Database(path);
      const onDisk = path !== ':memory:';
      await walMode(db);
      // `full` is NORMAL plus our own WAL fsync after each commit, off the event loop (see WalSync)
      db.pragma(`synchronous = ${this.options.synchronous === 'normal' || onDisk ? 'NORMAL' : 'FULL'}`);
      db.pragma('foreign_keys = ON');
      db.pragma('busy_timeout = 5000');
      db.pragma('temp_store = MEMORY');
      migrate(db);
      walSync =
        onDisk && this.options.synchronous !== 'normal' ? await WalSync.open(`${path}-wal`) : undefined;
      const sync = walSync;
      const writes = new WriteBatcher(db, sync && (() => sync.sync()));
      checkpointer =
        onDisk && this.options.checkpoints !== 'inline'
          ? Checkpointer.start(db, path, (fn) => writes.quiesce(fn), {
              ...(this.options.checkpointIntervalMs ? { intervalMs: this.options.checkpointIntervalMs } : {}),
              ...(this.options.logger ? { logger: this.options.logger } : {}),
            })
          : undefined;
      const statements = new Statements(db);
      const outbox = new SqliteOutbox(statements);
      const alerts = new SqliteAlerts(statements);
      const inbound = new SqliteInbound(statements);
      const kv = new SqliteKv(statements);
      this.open = {
        db,
        writes,
        tx: {
          history: new SqliteHistory(statements),
          outbox,
          alerts,
          inbound,
          kv,
          leases: new SqliteLeases(statements),
          claims: new SqliteClaims(statements),
        },
        outbox,
        alerts,
        inbound,
        kv,
        statements,
        walSync,
        checkpointer,
        counter: onDisk ? new StateCounter(path, SMS_COUNTS_SQL, this.options.logger) : undefined,
      };
      alerts.prune(Date.now());
    } catch (err) {
      // the start's error is the one reported; closing what it opened does not replace it
      this.open = undefined;
      await checkpointer?.stop().catch(() => undefined);
      await walSync?.close().catch(() => undefined);
      try {
        db?.close();
      } catch {}
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
    const open = this.open;
    if (!open) return;
    await open.writes.flush();
    this.open = undefined;
    await open.counter?.stop();
    await open.checkpointer?.stop();
    await open.walSync?.close();
    open.db.close();
  }

  /** On a worker thread's connection (`StateCounter`); on the store's own if that worker cannot run. */
  override async countByState(): Promise<Record<SmsState, number>> {
    const open = this.o;
    const counting = open.counter?.count();
    if (counting !== undefined) {
      try {
        return countsOf(await counting);
      } catch (err) {
        // a count that failed, or the store stopping: no second count on a connection that may be closing
        if (open.counter?.available || this.open !== open) throw err;
      }
    }
    return open.outbox.counts();
  }

  protected get readSide(): StoreReadSide {
    return this.o;
  }

  private get o(): Open {
    if (!this.open) throw new BridgeError('ERR_STORE', 'the store is not open');
    return this.open;
  }

  transaction<T>(fn: (tx: Tx) => Promise<T>, options?: TransactionOptions): Promise<T> {
    const open = this.open;
    if (!open) return Promise.reject(new BridgeError('ERR_STORE', 'the store is not open'));
    return open.writes.submit(() => fn(open.tx), options?.oneWrite === true);
  }

  /** Shares the store's connection and group commit, so broker writes batch with the outbox's. */
  brokerState(): BrokerStateRepository {
    const open = this.o;
    return new SqliteBrokerStateRepository(open.db, { batcher: open.writes });
  }

  async healthy(): Promise<boolean> {
    const open = this.open;
    if (!open) return false;
    if (this.options.path !== ':memory:' && !existsSync(this.options.path)) return false;
    try {
      open.statements.get('SELECT 1').get();
      return true;
    } catch {
      return false;
    }
  }
}
