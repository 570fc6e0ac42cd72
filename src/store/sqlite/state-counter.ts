import type { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import { BridgeError } from '../../errors.js';
import { sqliteWorker } from './sqlite-worker.js';

/** A count the worker has not answered by then fails (the metrics and the status page keep their last counts). */
export const COUNT_TIMEOUT_MS = 30_000;

export type CountRows = Array<{ state: string; n: number }>;

/**
 * The SMS counted by state on a worker thread, with a connection of its own. On SQLite the count reads the whole
 * `sms_state` index: 60-250 ms at 1M SMS on the 2-core machine of BENCHMARKS.md (issue 14, session 10), which on
 * the store's connection held the event loop that long, every time the metrics or the status page asked (at most
 * every 2 s, `StateCounts`). In WAL mode the worker's connection reads what is committed beside the one writer,
 * and never waits for it.
 *
 * The worker starts at the first count, so a bridge nobody watches never starts it (a second isolate: a few MB).
 * One count at a time: a count asked for while one runs gets that one's answer. If the worker cannot start or
 * stops, `count` answers undefined and the store counts on its own connection, as before.
 */
export class StateCounter {
  private worker: Worker | undefined;
  private broken = false;
  private running: Promise<CountRows> | undefined;
  private answer: { resolve: (rows: CountRows) => void; reject: (err: Error) => void } | undefined;

  constructor(
    private readonly path: string,
    private readonly sql: string,
    private readonly logger?: Logger,
  ) {}

  /** False once the worker could not start or stopped: the store counts on its own connection. */
  get available(): boolean {
    return !this.broken;
  }

  /** The rows of `sql` as the worker's connection reads them; undefined when there is no worker to ask. */
  count(): Promise<CountRows> | undefined {
    if (this.running !== undefined) return this.running;
    const worker = this.start();
    if (worker === undefined) return undefined;
    // referenced while it counts, so that a process waiting for nothing else waits for the answer
    worker.ref();
    const running = new Promise<CountRows>((resolve, reject) => {
      this.answer = { resolve, reject };
      worker.postMessage('count');
    });
    const timer = setTimeout(
      () =>
        this.settle(
          new BridgeError('ERR_STORE', `the SMS count took more than ${COUNT_TIMEOUT_MS} ms; not answered`),
        ),
      COUNT_TIMEOUT_MS,
    );
    timer.unref();
    this.running = running.finally(() => {
      clearTimeout(timer);
      this.running = undefined;
      this.worker?.unref();
    });
    return this.running;
  }

  private settle(result: CountRows | Error): void {
    const answer = this.answer;
    this.answer = undefined;
    if (answer === undefined) return;
    if (result instanceof Error) answer.reject(result);
    else answer.resolve(result);
  }

  private start(): Worker | undefined {
    if (this.worker !== undefined || this.broken) return this.worker;
    try {
      const worker = sqliteWorker(this.path, WORKER_SOURCE, { sql: this.sql });
      worker.on('message', (m: { rows?: CountRows; error?: string }) =>
        this.settle(m.rows ?? new BridgeError('ERR_STORE', `the SMS count failed: ${m.error}`)),
      );
      worker.on('error', (err) => this.fail(err.message));
      worker.on('exit', () => this.fail('the worker stopped'));
      worker.unref();
      this.worker = worker;
      return worker;
    } catch (err) {
      this.fail((err as Error).message);
      return undefined;
    }
  }

  private fail(why: string): void {
    if (this.broken) return;
    this.broken = true;
    this.worker = undefined;
    this.settle(new BridgeError('ERR_STORE', `the SMS count's worker stopped: ${why}`));
    this.logger?.warn(
      { reason: why },
      'SMS count worker stopped; the SMS are counted on the event loop again',
    );
  }

  /** Stops the worker (a count under way fails); the store then closes its own connection. */
  async stop(): Promise<void> {
    const worker = this.worker;
    this.broken = true;
    this.worker = undefined;
    this.settle(new BridgeError('ERR_STORE', 'the store is closing'));
    if (worker !== undefined) await worker.terminate();
  }
}

// run after sqliteWorker's prelude (parentPort, workerData, db)
const WORKER_SOURCE = `
db.pragma('query_only = ON');
db.pragma('busy_timeout = 5000');
const count = db.prepare(workerData.sql);
parentPort.on('message', () => {
  try {
    parentPort.postMessage({ rows: count.all() });
  } catch (err) {
    parentPort.postMessage({ error: String(err && err.message) });
  }
});
`;
