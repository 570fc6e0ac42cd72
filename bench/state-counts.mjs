// What counting the SMS by state costs the event loop (the metrics and the status page ask, at most every 2 s): a
// SQLite store with `n` SMS (mostly delivered, as after weeks of service), counted `rounds` times on the store's
// own connection (as before session 11) and through `countByState()` (a worker thread's connection), alternated.
// The event loop's longest stall during each count is read from a 1 ms timer's lateness.
//   node bench/state-counts.mjs [n=1000000] [rounds=5]
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { SqliteStore } from '../dist/store/sqlite/sqlite-store.js';
import { median, tempDir } from './lib/common.mjs';

const n = Number(process.argv[2] ?? 1_000_000);
const rounds = Number(process.argv[3] ?? 5);
const dir = tempDir();
const path = join(dir, 'bridge.db');
try {
  // the schema by the store's migrations, the rows by plain SQL (the store's write path is not what is measured)
  const store = new SqliteStore({ path });
  await store.start();
  await store.stop();
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  const insert =
    db.prepare(`INSERT INTO sms (created_at, updated_at, to_number, text, priority, source, expires_at,
    state, parts_total) VALUES (?, ?, '+447700900001', 'Pump 3 pressure low', 'normal', 'rule:pump', ?, ?, 1)`);
  const states = [
    'delivered',
    'delivered',
    'delivered',
    'delivered',
    'delivered',
    'delivered',
    'submitted',
    'failed',
  ];
  const now = Date.now();
  for (let i = 0; i < n; i += 10_000)
    db.transaction(() => {
      for (let j = i; j < Math.min(n, i + 10_000); j++) insert.run(now, now, now + 86_400_000, states[j % 8]);
    })();
  db.close();

  await store.start();
  // the longest gap between ticks of a 1 ms timer while `fn` runs, less the 1 ms
  const stall = async (fn) => {
    let last = performance.now();
    let worst = 0;
    const timer = setInterval(() => {
      const t = performance.now();
      worst = Math.max(worst, t - last - 1);
      last = t;
    }, 1);
    const t0 = performance.now();
    const counts = await fn();
    const took = performance.now() - t0;
    worst = Math.max(worst, performance.now() - last - 1);
    clearInterval(timer);
    return { took, worst, counts };
  };
  const own = () => store.o.outbox.counts();
  const worker = () => store.countByState();
  await worker(); // the worker's start, once
  const got = { own: [], worker: [] };
  for (let r = 0; r < rounds; r++) {
    for (const [name, fn] of r % 2
      ? [
          ['worker', worker],
          ['own', own],
        ]
      : [
          ['own', own],
          ['worker', worker],
        ]) {
      const m = await stall(fn);
      got[name].push(m);
      if (JSON.stringify(m.counts) !== JSON.stringify(got.own[0]?.counts ?? m.counts))
        throw new Error('counts differ');
    }
  }
  await store.stop();
  const f = (xs) => xs.map((x) => x.toFixed(1)).join(' / ');
  const out = (line) => process.stdout.write(`${line}\n`);
  out(`${n} SMS, ${rounds} rounds alternated:`);
  for (const [name, ms] of Object.entries(got)) {
    out(
      `  ${name === 'own' ? "the store's connection" : "a worker thread's connection"}: count ${f(ms.map((m) => m.took))} ms ` +
        `(median ${median(ms.map((m) => m.took)).toFixed(1)}); the event loop's longest stall ${f(ms.map((m) => m.worst))} ms ` +
        `(median ${median(ms.map((m) => m.worst)).toFixed(1)})`,
    );
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
