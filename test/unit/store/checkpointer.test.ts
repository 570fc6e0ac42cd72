import { existsSync, readdirSync, readlinkSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { Checkpointer } from '../../../src/store/sqlite/checkpointer.js';
import { MIGRATIONS } from '../../../src/store/sqlite/migrations.js';
import { SqliteStore } from '../../../src/store/sqlite/sqlite-store.js';
import { tempDir, waitFor } from '../../helpers/harness.js';

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

function openDb(): { db: Database.Database; path: string } {
  const dir = tempDir();
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'bridge.db');
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT)');
  cleanup.push(() => db.close());
  return { db, path };
}

/** No group commit here: the inserts below are synchronous, nothing commits while `fn` runs. */
const run = (fn: () => Promise<void>) => fn();

const insert = (db: Database.Database, rows: number) => {
  const stmt = db.prepare('INSERT INTO t (body) VALUES (?)');
  // one transaction per 20 rows, as group commits make them
  for (let i = 0; i < rows; i += 20)
    db.transaction(() => {
      for (let j = 0; j < 20; j++) stmt.run('x'.repeat(200));
    })();
};

describe('WAL checkpoints on a worker thread', () => {
  it('turns the connection’s own checkpoints off and checkpoints the WAL from the worker', async () => {
    const { db, path } = openDb();
    const cp = Checkpointer.start(db, path, run, { intervalMs: 20 })!;
    cleanup.push(() => cp.stop());
    expect(db.pragma('wal_autocheckpoint', { simple: true })).toBe(0);
    const initial = statSync(path).size;
    insert(db, 40_000); // ~2,500 pages (10 MB): the connection alone would have checkpointed twice
    // pages reach the database file only by a checkpoint, and this connection runs none
    await waitFor(() => statSync(path).size > initial + 8_000_000, 'the pages in the database file', 5_000);
    await waitFor(() => cp.checkpoints > 0, 'the worker reported', 5_000);
  });

  it('past 1,000 pages, holds the commits while the worker copies the rest, so the next write starts the WAL over', async () => {
    const { db, path } = openDb();
    const held: Array<{ logAfter: number }> = [];
    // the store's WriteBatcher.quiesce, with the commits it holds back written in here: a checkpoint that ran
    // during them left pages behind, and only the worker's last pass, made while nothing commits, copies them all
    const quiesce = async (fn: () => Promise<void>) => {
      insert(db, 200);
      await fn();
      insert(db, 20); // the next commit: starts the WAL over if every page was copied
      const [r] = db.pragma('wal_checkpoint(PASSIVE)', { simple: false }) as Array<{ log: number }>;
      held.push({ logAfter: r!.log });
    };
    const cp = Checkpointer.start(db, path, quiesce, { intervalMs: 20 })!;
    cleanup.push(() => cp.stop());
    insert(db, 24_000); // ~1,500 pages
    await waitFor(() => held.length > 0, 'commits held once the WAL passed 1,000 pages', 5_000);
    expect(cp.restarts).toBeGreaterThanOrEqual(1);
    // started over: only the last commit's pages, not the ~1,500 before it
    expect(held[0]!.logAfter).toBeLessThan(20);
  });

  it('gives the checkpoints back to the connection when the worker stops', async () => {
    const { db, path } = openDb();
    const cp = Checkpointer.start(db, path, run, { intervalMs: 20 })!;
    expect(db.pragma('wal_autocheckpoint', { simple: true })).toBe(0);
    // the worker dies (out of memory, a bug): the connection checkpoints by itself again
    await (cp as unknown as { worker: { terminate(): Promise<number> } }).worker.terminate();
    await waitFor(
      () => db.pragma('wal_autocheckpoint', { simple: true }) === 1000,
      'checkpoints back on the connection',
      5_000,
    );
    await cp.stop();
  });

  it('runs for a SqliteStore on a file, and its stop leaves no WAL behind', async () => {
    const dir = tempDir();
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const path = join(dir, 'bridge.db');
    const store = new SqliteStore({ path, checkpointIntervalMs: 20 });
    await store.start();
    await store.transaction((tx) =>
      tx.outbox.enqueue(
        Array.from({ length: 200 }, (_, i) => ({
          to: '+447700900001',
          text: `sms ${i}`,
          priority: 'normal' as const,
          source: 'test',
          expiresAt: Date.now() + 60_000,
        })),
      ),
    );
    const db = (store as unknown as { open: { db: Database.Database } }).open.db;
    expect(db.pragma('wal_autocheckpoint', { simple: true })).toBe(0);
    await store.stop();
    // the last connection to close checkpoints and deletes the WAL: the worker's was closed first
    expect(existsSync(`${path}-wal`)).toBe(false);
    const reopened = new Database(path, { readonly: true });
    cleanup.push(() => reopened.close());
    expect(reopened.prepare('SELECT COUNT(*) AS n FROM sms').get()).toEqual({ n: 200 });
  });
});

describe('a process that stops its store', () => {
  it('ends by itself: the worker is waited for, not left running or cut off', async () => {
    const { spawnSync } = await import('node:child_process');
    const dir = tempDir();
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const store = join(import.meta.dirname, '../../../dist/store/sqlite/sqlite-store.js');
    expect(existsSync(store), 'dist/ is built by `npm test` (pretest); run `npm run build` first').toBe(true);
    const script = `
      const { SqliteStore } = await import(${JSON.stringify(store)});
      const store = new SqliteStore({ path: ${JSON.stringify(join(dir, 'b.db'))}, checkpointIntervalMs: 10 });
      await store.start();
      await store.transaction((tx) => tx.kv.put('test', 'k', Buffer.from('v'), Date.now()));
      await new Promise((r) => setTimeout(r, 50));
      await store.stop();
      console.log('stopped');`;
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      encoding: 'utf8',
      timeout: 15_000,
    });
    expect(child.stderr).toBe('');
    expect(child.stdout.trim()).toBe('stopped');
    expect(child.status).toBe(0);
  });
});

describe('a store that fails to start', () => {
  // every descriptor of this process (the checkpoint worker's connection is in it too) open on the store's files
  const openOn = (path: string) =>
    readdirSync('/proc/self/fd').filter((fd) => {
      try {
        return readlinkSync(`/proc/self/fd/${fd}`).startsWith(path);
      } catch {
        return false; // closed since the listing
      }
    });

  it.skipIf(!existsSync('/proc/self/fd'))(
    'leaves no connection or WAL descriptor open on its files',
    async () => {
      const dir = tempDir();
      cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
      const path = join(dir, 'bridge.db');
      // migrated, by its version, but without the tables: preparing the statements fails after the worker started
      const db = new Database(path);
      db.pragma('journal_mode = WAL');
      db.pragma(`user_version = ${MIGRATIONS.length}`);
      db.close();
      const store = new SqliteStore({ path });
      await expect(store.start()).rejects.toThrow(/cannot open the store.*no such table/);
      await waitFor(() => openOn(path).length === 0, 'no descriptor left on the store files', 5_000);
      // the checkpoint worker opens its own connection a moment after it starts (100-200 ms here): a worker left
      // running would show up in this second
      await new Promise((r) => setTimeout(r, 1_000));
      expect(openOn(path)).toEqual([]);
    },
  );
});
