// A/B of the alert -> SMS write path: benchmark 2 alternated between two trees, each run in a fresh bridge
// process. Reports SMS/s (wall clock, moved by other load on the machine) and the bridge's CPU per SMS (moved
// far less) and the event loop's busy time per SMS (CPU plus blocking calls such as a synchronous fsync), each
// as a ratio B/A per pair of runs.
//   node bench/write-ab.mjs <treeA> <treeB> [runs=3] [total=20000]
// Each tree needs `npm run build` and this bench/ directory copied in (it runs <tree>/bench/delivery.mjs).
import { join, resolve } from 'node:path';

const [a, b, runs = '3', total = '20000'] = process.argv.slice(2);
if (!a || !b) throw new Error('usage: node bench/write-ab.mjs <treeA> <treeB> [runs] [total]');
const load = async (tree) => (await import(join(resolve(tree), 'bench/delivery.mjs'))).throughputRun;
const runA = await load(a);
const runB = await load(b);
const rows = [];
for (let r = 0; r < Number(runs); r++) {
  const order = r % 2 === 0 ? ['A', 'B'] : ['B', 'A'];
  const got = {};
  for (const which of order) {
    got[which] = await (which === 'A' ? runA : runB)({ total: Number(total) });
    process.stderr.write(
      `  run ${r + 1} ${which}: ${Math.round(got[which].smsPerSec)} SMS/s, ${got[which].cpuUsPerSms.toFixed(1)} us CPU/SMS, ${got[which].loopUsPerSms.toFixed(1)} us loop busy/SMS\n`,
    );
  }
  rows.push({
    rate: got.B.smsPerSec / got.A.smsPerSec,
    cpu: got.B.cpuUsPerSms / got.A.cpuUsPerSms,
    loop: got.B.loopUsPerSms / got.A.loopUsPerSms,
    a: got.A,
    b: got.B,
  });
}
const out = (line) => process.stdout.write(`${line}\n`);
const med = (xs) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
const f = (x) => x.toFixed(2);
out(
  `B/A SMS/s: ${rows.map((r) => f(r.rate)).join(', ')} (median ${f(med(rows.map((r) => r.rate)))}); ` +
    `B/A CPU per SMS: ${rows.map((r) => f(r.cpu)).join(', ')} (median ${f(med(rows.map((r) => r.cpu)))}); ` +
    `B/A loop busy per SMS: ${rows.map((r) => f(r.loop)).join(', ')} (median ${f(med(rows.map((r) => r.loop)))})`,
);
out(
  `A: ${rows.map((r) => Math.round(r.a.smsPerSec)).join('/')} SMS/s, ${rows.map((r) => r.a.cpuUsPerSms.toFixed(0)).join('/')} us/SMS; ` +
    `B: ${rows.map((r) => Math.round(r.b.smsPerSec)).join('/')} SMS/s, ${rows.map((r) => r.b.cpuUsPerSms.toFixed(0)).join('/')} us/SMS`,
);
