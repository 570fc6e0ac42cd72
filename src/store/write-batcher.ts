import type Database from 'better-sqlite3';

interface PendingWrite {
  run: () => unknown;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
}

/**
 * Group commit: every write asked for in one turn of the event loop runs in one transaction, so one fsync
 * serves them all. Each write runs in its own savepoint (better-sqlite3 nests transactions that way), so one
 * failing write rolls back alone and rejects only its own promise.
 */
export class WriteBatcher {
  private queue: PendingWrite[] = [];
  private scheduled = false;

  private readonly begin: Database.Statement;
  private readonly commit: Database.Statement;
  private readonly rollback: Database.Statement;
  private readonly savepoint: Database.Statement;
  private readonly release: Database.Statement;
  private readonly rollbackTo: Database.Statement;

  /** Statements prepared once: `db.transaction(fn)` built a wrapper per write, ~10% of a write-heavy profile. */
  constructor(private readonly db: Database.Database) {
    this.begin = db.prepare('BEGIN');
    this.commit = db.prepare('COMMIT');
    this.rollback = db.prepare('ROLLBACK');
    this.savepoint = db.prepare('SAVEPOINT write');
    this.release = db.prepare('RELEASE write');
    this.rollbackTo = db.prepare('ROLLBACK TO write');
  }

  submit<T>(run: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ run, resolve: resolve as (value: unknown) => void, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  flush(): void {
    this.scheduled = false;
    const batch = this.queue;
    if (batch.length === 0) return;
    this.queue = [];
    const outcomes: Array<{ ok: boolean; value: unknown }> = [];
    try {
      this.begin.run();
      for (const write of batch) {
        this.savepoint.run();
        try {
          outcomes.push({ ok: true, value: write.run() });
          this.release.run();
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
    batch.forEach((write, i) => {
      const outcome = outcomes[i]!;
      if (outcome.ok) write.resolve(outcome.value);
      else write.reject(outcome.value);
    });
  }
}
