import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
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
});
