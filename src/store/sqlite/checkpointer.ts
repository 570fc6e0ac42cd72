import type { Worker } from 'node:worker_threads';
import type Database from 'better-sqlite3';
import type { Logger } from 'pino';
import { sqliteWorker } from './sqlite-worker.js';

/** WAL frames (pages) after which the WAL is restarted from its start: SQLite's own `wal_autocheckpoint`. */
export const RESTART_WAL_FRAMES = 1000;

interface Report {
  /** frames in the WAL and how many of them are in the database file */
  log?: number;
  checkpointed?: number;
  /** the answer to a `finish` */
  finished?: boolean;
  error?: string;
}

/**
 * WAL checkpoints off the event loop. SQLite's automatic checkpoint runs inside the COMMIT that takes the WAL past
 * 1,000 pages, on the connection's thread: it copies the WAL's pages into the database file and fsyncs it, 7 ms for
 * ~1,400 pages on this machine's disk (16 ms with `synchronous: normal`, whose WAL was not synced before). At 1,000
 * alerts/s in small group commits the WAL grows by 4-11 pages per SMS, so that pause came every 0.1-0.2 s and every
 * message behind it waited (BENCHMARKS.md, session 5).
 *
 * Here the store's connection never checkpoints (`wal_autocheckpoint = 0`); a worker thread with a connection of its
 * own runs `wal_checkpoint(PASSIVE)` every `intervalMs`, which never waits for the writer or for readers. That alone
 * would let the WAL grow for good under a steady load: SQLite writes the WAL from its start again only when a write
 * begins after a checkpoint copied all of it, and commits keep coming while one runs. So once the WAL holds
 * `RESTART_WAL_FRAMES`, the store holds its commits (`WriteBatcher.quiesce`: queued, the event loop free) while the
 * worker copies the few pages committed since its last checkpoint; the next commit then starts the WAL over.
 * If the worker cannot start or stops, the connection checkpoints by itself as before.
 */
export class Checkpointer {
  private stopping = false;
  private finishing = false;
  private finished: (() => void) | undefined;
  private exited: Promise<void>;
  /** checkpoints the worker ran, and the times the WAL was finished for a restart (tests and diagnostics) */
  checkpoints = 0;
  restarts = 0;

  private constructor(
    private readonly worker: Worker,
    private readonly db: Database.Database,
    private readonly quiesce: (fn: () => Promise<void>) => Promise<void>,
    private readonly logger: Logger | undefined,
  ) {
    this.exited = new Promise((resolve) => worker.once('exit', () => resolve()));
    worker.on('message', (m: Report) => this.onReport(m));
    worker.on('error', (err) => this.fallBack(err.message));
    worker.on('exit', () => this.fallBack('the worker stopped'));
    worker.unref();
  }

  /**
   * Starts the worker for the database at `path` (WAL mode, opened by `db`) and turns `db`'s own checkpoints off.
   * `quiesce` runs a function while no commit is made (`WriteBatcher.quiesce`). Returns undefined, leaving `db`
   * as it was, when no worker can be made.
   */
  static start(
    db: Database.Database,
    path: string,
    quiesce: (fn: () => Promise<void>) => Promise<void>,
    options: { intervalMs?: number; logger?: Logger } = {},
  ): Checkpointer | undefined {
    let worker: Worker;
    try {
      worker = sqliteWorker(path, WORKER_SOURCE, { intervalMs: options.intervalMs ?? 100 });
    } catch (err) {
      options.logger?.warn(
        { err },
        'cannot start the WAL checkpoint worker; checkpoints run on the event loop',
      );
      return undefined;
    }
    db.pragma('wal_autocheckpoint = 0');
    return new Checkpointer(worker, db, quiesce, options.logger);
  }

  private onReport(m: Report): void {
    if (m.error !== undefined) {
      this.fallBack(`a checkpoint failed: ${m.error}`);
      return;
    }
    this.checkpoints++;
    if (m.finished) {
      this.finished?.();
      return;
    }
    if (this.stopping || this.finishing || (m.log ?? 0) < RESTART_WAL_FRAMES) return;
    this.finishing = true;
    void this.quiesce(async () => {
      if (this.stopping) return;
      const done = new Promise<void>((resolve) => {
        this.finished = resolve;
      });
      this.worker.postMessage('finish');
      // bounded: a worker that does not answer only costs its commits this long
      const timer = setTimeout(() => this.finished?.(), 500);
      await done;
      clearTimeout(timer);
      this.finished = undefined;
      this.restarts++;
    }).finally(() => {
      this.finishing = false;
    });
  }

  private fallBack(why: string): void {
    if (this.stopping) return;
    this.stopping = true;
    this.finished?.();
    try {
      this.db.pragma(`wal_autocheckpoint = ${RESTART_WAL_FRAMES}`);
    } catch {
      // the connection is closed: nothing left to checkpoint
    }
    this.logger?.warn(
      { reason: why },
      'WAL checkpoint worker stopped; checkpoints run on the event loop again',
    );
    void this.worker.terminate();
  }

  /** Stops the worker (its checkpoint under way finishes first); the store then closes its connection. */
  async stop(): Promise<void> {
    // referenced again: an unreferenced worker would let a process with nothing else to do end before it exits
    this.worker.ref();
    if (!this.stopping) {
      this.stopping = true;
      this.finished?.();
      this.worker.postMessage('stop');
    }
    const timeout = new Promise<'timeout'>((resolve) => setTimeout(resolve, 5_000, 'timeout').unref());
    if ((await Promise.race([this.exited, timeout])) === 'timeout') await this.worker.terminate();
  }
}

// run after sqliteWorker's prelude (parentPort, workerData, db)
const WORKER_SOURCE = `
db.pragma('busy_timeout = 0');
const checkpoint = (extra) => {
  try {
    const [r] = db.pragma('wal_checkpoint(PASSIVE)');
    parentPort.postMessage({ log: r.log, checkpointed: r.checkpointed, ...extra });
  } catch (err) {
    // SQLITE_BUSY: another connection is checkpointing; the next tick tries again
    if (err && err.code === 'SQLITE_BUSY') {
      if (extra) parentPort.postMessage(extra);
      return;
    }
    parentPort.postMessage({ error: String(err && err.message) });
  }
};
const timer = setInterval(() => checkpoint(), workerData.intervalMs);
parentPort.on('message', (m) => {
  if (m === 'finish') return checkpoint({ finished: true });
  if (m !== 'stop') return;
  clearInterval(timer);
  db.close();
  parentPort.close();
});
`;
