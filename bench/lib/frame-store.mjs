// A SQLite store of a build whose WAL frames can be counted: the checkpoint worker never runs (the WAL keeps every
// frame written), and a second connection empties the WAL before the measured part (`start`) and counts the
// frames written since (`frames`). For bench/lib/wal-frames.mjs and bench/alert-repeat.mjs.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import Database from 'better-sqlite3';

export async function frameCountingStore(dist, name) {
  const { SqliteStore } = await import(pathToFileURL(resolve(dist, 'store/sqlite/sqlite-store.js')).href);
  const dir = mkdtempSync(join(tmpdir(), `sms-bridge-${name}-`));
  const path = join(dir, 'bridge.db');
  const store = new SqliteStore({
    path,
    synchronous: 'normal',
    checkpoints: 'worker',
    checkpointIntervalMs: 1e9,
  });
  await store.start();
  const side = new Database(path);
  return {
    store,
    /** empties the WAL: frames are counted from here */
    start: () => side.pragma('wal_checkpoint(TRUNCATE)'),
    /** frames written since `start` */
    frames: () => side.pragma('wal_checkpoint(PASSIVE)')[0].log,
    async close() {
      side.close();
      await store.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
