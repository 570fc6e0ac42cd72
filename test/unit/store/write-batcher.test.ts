import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { WalSync } from '../../../src/store/sqlite/wal-sync.js';
import { WriteBatcher } from '../../../src/store/sqlite/write-batcher.js';

describe('WriteBatcher (group commit)', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  const open = () => {
    const dir = mkdtempSync(join(tmpdir(), 'batcher-'));
    dirs.push(dir);
    const db = new Database(join(dir, 'db.sqlite'));
    db.pragma('journal_mode = WAL');
    db.exec('CREATE TABLE t (v TEXT)');
    return db;
  };

  it('quiesce: runs once the batch under way is committed, and commits nothing until it ends', async () => {
    const db = open();
    const batcher = new WriteBatcher(db);
    const insert = db.prepare('INSERT INTO t (v) VALUES (?)');
    const count = () => db.prepare('SELECT COUNT(*) FROM t').pluck().get() as number;
    const first = batcher.submit(() => insert.run('before').changes);
    let seen = -1;
    let later: Promise<unknown> | undefined;
    await batcher.quiesce(async () => {
      seen = count(); // the batch asked for before is in
      later = batcher.submit(() => insert.run('during').changes);
      await new Promise((r) => setTimeout(r, 50));
      expect(count()).toBe(1); // held while this runs
    });
    await first;
    await later;
    expect(seen).toBe(1);
    expect(count()).toBe(2);
    db.close();
  });

  it('commits the writes of one turn together and rolls back a failing write alone', async () => {
    const db = open();
    const batcher = new WriteBatcher(db);
    const insert = db.prepare('INSERT INTO t (v) VALUES (?)');
    const results = await Promise.allSettled([
      batcher.submit(() => insert.run('a').changes),
      batcher.submit(() => {
        insert.run('half of a failing write');
        throw new Error('boom');
      }),
      batcher.submit(() => insert.run('c').changes),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(db.prepare('SELECT v FROM t ORDER BY rowid').pluck().all()).toEqual(['a', 'c']);
    expect(db.inTransaction).toBe(false);
    db.close();
  });

  it('a transaction without a savepoint (oneWrite) whose statement fails rolls back alone', async () => {
    const db = open();
    db.exec('CREATE UNIQUE INDEX t_v ON t (v)');
    const batcher = new WriteBatcher(db);
    const insert = db.prepare('INSERT INTO t (v) VALUES (?)');
    const results = await Promise.allSettled([
      batcher.submit(() => insert.run('a').changes),
      batcher.submit(() => insert.run('b').changes, true),
      // several rows, the last of them taken: SQLite undoes the rows before it too
      batcher.submit(() => db.prepare("INSERT INTO t (v) VALUES ('x'), ('y'), ('a')").run(), true),
      batcher.submit(() => {
        throw new Error('before writing');
      }, true),
      batcher.submit(() => insert.run('c').changes),
    ]);
    expect(results.map((r) => r.status)).toEqual([
      'fulfilled',
      'fulfilled',
      'rejected',
      'rejected',
      'fulfilled',
    ]);
    expect(db.prepare('SELECT v FROM t ORDER BY rowid').pluck().all()).toEqual(['a', 'b', 'c']);
    expect(db.inTransaction).toBe(false);
    db.close();
  });

  it('a transaction without a savepoint that fails after writing fails its whole batch, and nothing of it is kept', async () => {
    const db = open();
    const batcher = new WriteBatcher(db);
    const insert = db.prepare('INSERT INTO t (v) VALUES (?)');
    const results = await Promise.allSettled([
      batcher.submit(() => insert.run('a').changes),
      batcher.submit(() => {
        insert.run('half of a failing write');
        throw new Error('boom');
      }, true),
      batcher.submit(() => insert.run('c').changes),
    ]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected']);
    expect(db.prepare('SELECT v FROM t ORDER BY rowid').pluck().all()).toEqual([]);
    expect(db.inTransaction).toBe(false);
    await batcher.submit(() => insert.run('next batch').changes, true);
    expect(db.prepare('SELECT v FROM t').pluck().all()).toEqual(['next batch']);
    db.close();
  });

  it('a statement that makes SQLite roll back the whole transaction fails the whole batch', async () => {
    const db = open();
    db.exec('CREATE UNIQUE INDEX t_v ON t (v)');
    const batcher = new WriteBatcher(db);
    const insert = db.prepare('INSERT INTO t (v) VALUES (?)');
    const results = await Promise.allSettled([
      batcher.submit(() => insert.run('a').changes),
      batcher.submit(() => db.prepare("INSERT OR ROLLBACK INTO t (v) VALUES ('a')").run(), true),
      batcher.submit(() => insert.run('c').changes),
    ]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected']);
    expect(db.prepare('SELECT v FROM t ORDER BY rowid').pluck().all()).toEqual([]);
    expect(db.inTransaction).toBe(false);
    db.close();
  });

  it('leaves no transaction open after a batch, so the next batch commits too', async () => {
    const db = open();
    const batcher = new WriteBatcher(db);
    await batcher.submit(() => db.prepare("INSERT INTO t (v) VALUES ('x')").run());
    await batcher.submit(() => db.prepare("INSERT INTO t (v) VALUES ('y')").run());
    const reader = new Database(db.name, { readonly: true });
    expect(reader.prepare('SELECT COUNT(*) FROM t').pluck().get()).toBe(2);
    reader.close();
    db.close();
  });

  it('answers a batch only once it is durable; what is asked for meanwhile commits together after it', async () => {
    const db = open();
    const syncs: Array<() => void> = [];
    const batcher = new WriteBatcher(db, () => new Promise<void>((resolve) => syncs.push(resolve)));
    const insert = db.prepare('INSERT INTO t (v) VALUES (?)');
    let firstDone = false;
    const first = batcher
      .submit(() => insert.run('a'))
      .then(() => {
        firstDone = true;
      });
    while (syncs.length === 0) await new Promise((r) => setImmediate(r));
    // committed (another connection sees it), not yet durable: nobody has been answered
    const reader = new Database(db.name, { readonly: true });
    const count = () => reader.prepare('SELECT COUNT(*) FROM t').pluck().get();
    expect(count()).toBe(1);
    await new Promise((r) => setTimeout(r, 20));
    expect(firstDone).toBe(false);
    // the event loop is free meanwhile; these wait for the fsync under way, then commit in one batch
    const more = [batcher.submit(() => insert.run('b')), batcher.submit(() => insert.run('c'))];
    await new Promise((r) => setTimeout(r, 20));
    expect(count()).toBe(1);
    syncs[0]!();
    await first;
    while (syncs.length < 2) await new Promise((r) => setImmediate(r));
    expect(count()).toBe(3);
    expect(syncs).toHaveLength(2);
    syncs[1]!();
    await Promise.all(more);
    reader.close();
    db.close();
  });

  it('fails every write of a batch whose fsync fails, and flush() waits for the fsyncs under way', async () => {
    const db = open();
    let fail = true;
    const batcher = new WriteBatcher(db, () =>
      fail ? Promise.reject(new Error('EIO')) : new Promise<void>((r) => setTimeout(r, 30)),
    );
    const insert = db.prepare('INSERT INTO t (v) VALUES (?)');
    const lost = await Promise.allSettled([batcher.submit(() => insert.run('a')), batcher.submit(() => 1)]);
    expect(lost.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    fail = false;
    let answered = false;
    void batcher
      .submit(() => insert.run('b'))
      .then(() => {
        answered = true;
      });
    await batcher.flush();
    expect(answered).toBe(true);
    db.close();
  });

  it('WalSync fsyncs the WAL file SQLite writes, shares one fsync among the commits made while one runs', async () => {
    const db = open();
    db.prepare("INSERT INTO t (v) VALUES ('x')").run();
    const wal = await WalSync.open(`${db.name}-wal`);
    const all = await Promise.allSettled(Array.from({ length: 50 }, () => wal.sync()));
    expect(all.every((r) => r.status === 'fulfilled')).toBe(true);
    await wal.close();
    await expect(wal.sync()).rejects.toThrow(/closed/);
    // opened for appending: SQLite's file is not truncated
    expect(db.prepare('SELECT COUNT(*) FROM t').pluck().get()).toBe(1);
    db.close();
  });
});
