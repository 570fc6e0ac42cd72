import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { Statements } from '../../../src/store/sqlite/statements.js';

describe('Statements (prepared once per SQL)', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  const open = () => {
    const dir = mkdtempSync(join(tmpdir(), 'statements-'));
    dirs.push(dir);
    const db = new Database(join(dir, 'db.sqlite'));
    db.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t VALUES (1, 'a')");
    return db;
  };

  it('keeps the raw and the plain statement of one SQL apart, whichever is asked for first', () => {
    const sql = 'SELECT id, v FROM t WHERE id = ?';
    const plainFirst = new Statements(open());
    expect(plainFirst.get(sql).get(1)).toEqual({ id: 1, v: 'a' });
    expect(plainFirst.raw(sql).get(1)).toEqual([1, 'a']);
    expect(plainFirst.get(sql).get(1)).toEqual({ id: 1, v: 'a' });
    const rawFirst = new Statements(open());
    expect(rawFirst.raw(sql).get(1)).toEqual([1, 'a']);
    expect(rawFirst.get(sql).get(1)).toEqual({ id: 1, v: 'a' });
    expect(rawFirst.raw(sql).get(1)).toEqual([1, 'a']);
    // each prepared once
    expect(rawFirst.raw(sql)).toBe(rawFirst.raw(sql));
    expect(rawFirst.get(sql)).toBe(rawFirst.get(sql));
    plainFirst.db.close();
    rawFirst.db.close();
  });
});
