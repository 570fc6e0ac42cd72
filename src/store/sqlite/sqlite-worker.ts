import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

// CommonJS, run by the worker with `eval`: no file of its own, so the bundle (dist/bridge.cjs) needs none either
const PRELUDE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.module);
const db = new Database(workerData.path, { fileMustExist: true });
`;

/**
 * A worker thread with a connection of its own to the database at `path` (which must exist): `body` is CommonJS
 * run after `parentPort`, `workerData` (`data`, with `path`) and `db` are set. One connection and a timer or a
 * statement: a small heap (the default would reserve the main thread's limits). Throws when no worker can be made.
 */
export function sqliteWorker(path: string, body: string, data: Record<string, unknown> = {}): Worker {
  return new Worker(PRELUDE + body, {
    eval: true,
    workerData: { ...data, module: createRequire(import.meta.url).resolve('better-sqlite3'), path },
    resourceLimits: { maxOldGenerationSizeMb: 16, maxYoungGenerationSizeMb: 4 },
    stdout: false,
    stderr: false,
  });
}
