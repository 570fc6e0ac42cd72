// better-sqlite3's binding alone: the same values passed as one array, spread, or as separate arguments, on a
// `SELECT ?, ...` (no table): CPU per call, median over the rounds, and per round against the array. An array's
// elements are read one by one through V8's API (src/util/binder.cpp `BindArray`), arguments directly; a string
// costs a UTF-8 copy and SQLite's own copy.
//   node bench/lib/bind-cost.mjs [calls per round=20000] [rounds=25]
import Database from 'better-sqlite3';

const db = new Database(':memory:');
const [n = 20000, rounds = 25] = process.argv.slice(2, 4).map(Number);
const q = (k) => db.prepare(`SELECT ${Array(k).fill('?').join(',')}`).pluck();
const s12 = q(12),
  s22 = q(22),
  s12n = q(12);
const now = Date.now();
const v12 = [
  now,
  now,
  '+447700900001',
  'A123',
  'normal',
  'rule:bench',
  'bench',
  'alerts-c1x23',
  '123',
  now + 3600000,
  null,
  null,
];
const v22 = [
  5,
  '5',
  'bench',
  'alerts-c1x23',
  'alerts-c1x23',
  'open',
  'normal',
  'A5',
  now,
  now,
  now,
  now,
  1,
  0,
  null,
  null,
  null,
  null,
  null,
  null,
  null,
  1,
];
const n12 = [now, now, 1, 2, 3, 4, 5, 6, 7, now, null, null];
const V = {
  array12: () => s12.run(v12),
  spread12: () => s12.run(...v12),
  args12: () =>
    s12.run(v12[0], v12[1], v12[2], v12[3], v12[4], v12[5], v12[6], v12[7], v12[8], v12[9], v12[10], v12[11]),
  array22: () => s22.run(v22),
  spread22: () => s22.run(...v22),
  'nums-array12': () => s12n.run(n12),
  'nums-spread12': () => s12n.run(...n12),
};
const names = Object.keys(V);
const res = Object.fromEntries(names.map((k) => [k, []]));
// rounds of `n` calls, the variants in a rotating order within each round (the machine's speed drifts)
for (let r = 0; r < rounds; r++)
  for (let j = 0; j < names.length; j++) {
    const k = names[(j + r) % names.length];
    const f = V[k];
    const t = process.cpuUsage();
    for (let i = 0; i < n; i++) f();
    const d = process.cpuUsage(t);
    res[k].push(((d.user + d.system) / n) * 1000);
  }
const med = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
// each variant against the array of the same values, per round
const base = (k) => (k.includes('22') ? 'array22' : k.startsWith('nums') ? 'nums-array12' : 'array12');
for (const [k, xs] of Object.entries(res))
  process.stdout.write(
    `${k.padEnd(14)} ${med(xs).toFixed(0)} ns per call; per round / ${base(k)}: median ` +
      `${med(xs.map((x, i) => x / res[base(k)][i])).toFixed(3)}\n`,
  );
