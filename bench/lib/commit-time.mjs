// How long a COMMIT holds the event loop: SQLite WAL with `synchronous = FULL` (fsync inside COMMIT, what the
// store did before WalSync) against `NORMAL` (what the store's connection runs now, fsync on the thread pool).
// 200 commits of 64 rows of 200 bytes each, alternating FULL, NORMAL, FULL, NORMAL.
//   node bench/lib/commit-time.mjs
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';

const dir = mkdtempSync(join(tmpdir(), 'sms-bridge-commit-'));
for (const [i, mode] of ['FULL', 'NORMAL', 'FULL', 'NORMAL'].entries()) {
  const db = new Database(join(dir, `${i}.db`));
  db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${mode}`);
  db.exec('CREATE TABLE t (a TEXT)');
  const insert = db.prepare('INSERT INTO t VALUES (?)');
  const begin = db.prepare('BEGIN');
  const commit = db.prepare('COMMIT');
  const ms = [];
  for (let n = 0; n < 200; n++) {
    begin.run();
    for (let r = 0; r < 64; r++) insert.run('x'.repeat(200));
    const t = performance.now();
    commit.run();
    ms.push(performance.now() - t);
  }
  ms.sort((a, b) => a - b);
  const at = (q) => ms[Math.floor(q * (ms.length - 1))].toFixed(3);
  process.stdout.write(`${mode}: COMMIT p50 ${at(0.5)} ms, p90 ${at(0.9)} ms, max ${at(1)} ms\n`);
  db.close();
}
rmSync(dir, { recursive: true, force: true });
