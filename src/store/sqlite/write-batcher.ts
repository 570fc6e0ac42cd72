import type Database from 'better-sqlite3';

interface PendingWrite {
  run: () => unknown;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
  /** run without a savepoint of its own (`submit`'s `oneWrite`) */
  oneWrite: boolean;
}

/** Transactions waiting for the next group commit; past this, `submit` refuses (back-pressure). */
export const MAX_PENDING_WRITES = 100_000;

/**
 * Group commit: every transaction asked for in one turn of the event loop runs in one SQLite transaction, so
 * one fsync serves them all. Each runs in its own savepoint, so one that throws rolls back alone and rejects
 * only its own promise. A transaction function may be async, but must await only the store's own calls
 * (they complete at once on SQLite): the batch stays open while it runs.
 *
 * A transaction submitted as `oneWrite` runs without a savepoint (SAVEPOINT and RELEASE, and the copies of the
 * pages it changes into the savepoint's journal: ~3 us per transaction). That is safe when it fails before writing
 * or in its one write statement: SQLite undoes a failed statement by itself and the batch's transaction stays open
 * (ABORT, the default conflict resolution). Whether it wrote is read from `total_changes()` before it and, only if it
 * fails, after it: one that fails after writing cannot be undone alone, so the whole batch is rolled back and every
 * transaction in it fails, as when the COMMIT fails.
 */
export class WriteBatcher {
  private queue: PendingWrite[] = [];
  private scheduled = false;
  private flushing: Promise<void> | undefined;
  /** committed batches waiting for `durable` before their callers are answered */
  private readonly syncing = new Set<Promise<void>>();
  /** while set, nothing commits (`quiesce`) */
  private paused = false;

  private readonly begin: Database.Statement;
  private readonly commit: Database.Statement;
  private readonly rollback: Database.Statement;
  private readonly savepoint: Database.Statement;
  private readonly release: Database.Statement;
  private readonly rollbackTo: Database.Statement;
  private readonly totalChanges: Database.Statement;

  /**
   * Statements prepared once: `db.transaction(fn)` built a wrapper per write, ~10% of a write-heavy profile.
   * `durable`, when given, is awaited after each COMMIT before the batch's callers are answered (the WAL fsync
   * off the event loop, `WalSync`); the transactions asked for meanwhile form the next batch.
   */
  constructor(
    private readonly db: Database.Database,
    private readonly durable?: () => Promise<void>,
  ) {
    this.begin = db.prepare('BEGIN');
    this.commit = db.prepare('COMMIT');
    this.rollback = db.prepare('ROLLBACK');
    this.savepoint = db.prepare('SAVEPOINT write');
    this.release = db.prepare('RELEASE write');
    this.rollbackTo = db.prepare('ROLLBACK TO write');
    this.totalChanges = db.prepare('SELECT total_changes()').pluck();
  }

  /**
   * `oneWrite`: `run` writes, nearly always, with one statement, and when it fails, fails before it writes or in
   * that statement (a row that is gone): it runs without a savepoint. Still atomic if not: see the class.
   */
  submit<T>(run: () => T | Promise<T>, oneWrite = false): Promise<T> {
    if (this.queue.length >= MAX_PENDING_WRITES) {
      return Promise.reject(new Error(`more than ${MAX_PENDING_WRITES} transactions waiting to commit`));
    }
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ run, resolve: resolve as (value: unknown) => void, reject, oneWrite });
      this.schedule();
    });
  }

  /**
   * While a committed batch waits for its fsync, new transactions wait too and commit together when it ends: one
   * commit (and one fsync) for all of them rather than one per turn of the event loop, which is free meanwhile.
   */
  private schedule(): void {
    if (this.scheduled || this.flushing !== undefined || this.syncing.size > 0 || this.paused) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      if (!this.paused) void this.commitQueued();
    });
  }

  /**
   * Runs `fn` once what was asked for is committed and durable, and commits nothing until it ends: transactions
   * asked for meanwhile wait and commit together after it (the event loop is free). For the checkpoint's last
   * pages (`Checkpointer`): a WAL is restarted from its start only by a write that begins when it is all copied.
   */
  async quiesce(fn: () => Promise<void>): Promise<void> {
    if (this.paused) return;
    this.paused = true;
    try {
      // what was asked for before is committed first, and durable
      await this.commitQueued().catch(() => undefined);
      while (this.syncing.size > 0) await Promise.all(this.syncing).catch(() => undefined);
      await fn();
    } finally {
      this.paused = false;
      if (this.queue.length > 0) this.schedule();
    }
  }

  /** Commits what is queued now; resolves when it is committed (or rolled back) and durable. */
  async flush(): Promise<void> {
    for (;;) {
      await this.commitQueued();
      if (this.syncing.size === 0) return;
      await Promise.all(this.syncing);
    }
  }

  private commitQueued(): Promise<void> {
    if (this.flushing !== undefined) return this.flushing.then(() => this.commitQueued());
    const batch = this.queue;
    if (batch.length === 0) return Promise.resolve();
    this.queue = [];
    this.flushing = this.run(batch).finally(() => {
      this.flushing = undefined;
      if (this.queue.length > 0) this.schedule();
    });
    return this.flushing;
  }

  private async run(batch: PendingWrite[]): Promise<void> {
    const outcomes: Array<{ ok: boolean; value: unknown }> = [];
    try {
      this.begin.run();
      for (const write of batch) {
        if (write.oneWrite) {
          const before = this.totalChanges.get();
          try {
            let value = write.run();
            if (value instanceof Promise) value = await value;
            outcomes.push({ ok: true, value });
          } catch (err) {
            // SQLite rolled the whole transaction back (SQLITE_FULL, OR ROLLBACK, ...), or it wrote, then failed
            if (!this.db.inTransaction || this.totalChanges.get() !== before)
              throw new Error(
                `a transaction without a savepoint failed after writing, or rolled the batch back: ${(err as Error).message}`,
                {
                  cause: err,
                },
              );
            outcomes.push({ ok: false, value: err });
          }
          continue;
        }
        this.savepoint.run();
        try {
          let value = write.run();
          if (value instanceof Promise) value = await value;
          this.release.run();
          outcomes.push({ ok: true, value });
        } catch (err) {
          this.rollbackTo.run();
          this.release.run();
          outcomes.push({ ok: false, value: err });
        }
      }
      this.commit.run();
    } catch (err) {
      if (this.db.inTransaction) this.rollback.run();
      for (const write of batch) write.reject(err);
      return;
    }
    const answer = () =>
      batch.forEach((write, i) => {
        const outcome = outcomes[i]!;
        if (outcome.ok) write.resolve(outcome.value);
        else write.reject(outcome.value);
      });
    if (this.durable === undefined) {
      answer();
      return;
    }
    // Committed but not yet on disk: nobody hears of it until it is (a failed fsync fails the whole batch).
    const synced = this.durable().then(answer, (err: unknown) => {
      for (const write of batch) write.reject(err);
    });
    this.syncing.add(synced);
    void synced.finally(() => {
      this.syncing.delete(synced);
      if (this.queue.length > 0) this.schedule();
    });
  }
}
