import { close, fsync, open } from 'node:fs';
import { BridgeError } from '../../errors.js';

/**
 * `synchronous: full` with the fsync off the event loop. SQLite in WAL mode with `synchronous = FULL` is
 * `NORMAL` plus one fsync of the WAL file after each commit, run inside COMMIT, on the event loop
 * (https://www.sqlite.org/pragma.html#pragma_synchronous). Here the connection runs `NORMAL` and this fsyncs the
 * WAL file on libuv's thread pool after each group commit; the batch's callers are answered only once it
 * completes, so nothing is acknowledged before it is on disk, as with `FULL`. Meanwhile the event loop runs the
 * next batch. fsync acts on the file, not the descriptor, so our own descriptor flushes SQLite's writes (Linux,
 * POSIX). SQLite itself still syncs the WAL before each checkpoint and the database after it (`NORMAL`).
 *
 * One fsync at a time: commits made while one runs share the next, which starts when it ends.
 */
export class WalSync {
  private fd: number | undefined;
  private running: Promise<void> | undefined;
  /** the fsync that will cover commits made while one runs */
  private next: Promise<void> | undefined;
  private closed = false;

  private constructor(private readonly file: string) {}

  static async open(walFile: string): Promise<WalSync> {
    const sync = new WalSync(walFile);
    // 'a': the file SQLite made, never truncated or created empty by us
    sync.fd = await new Promise<number>((resolve, reject) =>
      open(walFile, 'a', (err, fd) => (err ? reject(err) : resolve(fd))),
    );
    return sync;
  }

  /** Resolves once everything committed before this call is on disk. */
  sync(): Promise<void> {
    if (this.running === undefined) {
      this.running = this.fsync().finally(() => {
        this.running = undefined;
      });
      return this.running;
    }
    this.next ??= this.running.then(
      () => this.afterRunning(),
      () => this.afterRunning(),
    );
    return this.next;
  }

  private afterRunning(): Promise<void> {
    this.next = undefined;
    return this.sync();
  }

  private fsync(): Promise<void> {
    const fd = this.fd;
    if (this.closed || fd === undefined) {
      return Promise.reject(new BridgeError('ERR_STORE', `the WAL file ${this.file} is closed`));
    }
    return new Promise((resolve, reject) =>
      fsync(fd, (err) =>
        err
          ? reject(
              new BridgeError('ERR_STORE', `fsync of ${this.file} failed: ${err.message}`, { cause: err }),
            )
          : resolve(),
      ),
    );
  }

  /** After the last commit: waits for the fsyncs under way, then closes the descriptor. */
  async close(): Promise<void> {
    while (this.running !== undefined || this.next !== undefined) {
      await (this.next ?? this.running)?.catch(() => undefined);
    }
    this.closed = true;
    const fd = this.fd;
    this.fd = undefined;
    if (fd !== undefined) await new Promise<void>((resolve) => close(fd, () => resolve()));
  }
}
