// A/B of the alert -> SMS write path: a benchmark alternated between two trees (A B, B A, ...), each run in a
// fresh bridge process, each figure given as a ratio B/A per pair of runs.
//   node bench/write-ab.mjs <treeA> <treeB> [runs=3] [total=20000]
//     benchmark 2: SMS/s (wall clock, moved by other load on the machine), the bridge's CPU per SMS (moved far
//     less) and its event loop's busy time per SMS (CPU plus blocking calls such as a synchronous fsync)
//   node bench/write-ab.mjs <treeA> <treeB> [runs=3] --latency=<rate>[:<seconds>]
//     benchmark 3 at <rate> alerts/s (default 10 s): publish -> submit_sm p50 and p99
// Each tree needs `npm run build` and this bench/ directory copied in (it runs <tree>/bench/delivery.mjs).
import { join, resolve } from 'node:path';
import { inTurn } from './lib/common.mjs';

const args = process.argv.slice(2);
const latency = args.find((a) => a.startsWith('--latency='));
const [a, b, runs = '3', total = '20000'] = args.filter((x) => !x.startsWith('--'));
if (!a || !b)
  throw new Error('usage: node bench/write-ab.mjs <treeA> <treeB> [runs] [total] [--latency=rate]');
const [rate, seconds = 10] = latency ? latency.slice('--latency='.length).split(':').map(Number) : [];
const load = async (tree) => import(join(resolve(tree), 'bench/delivery.mjs'));
const mods = { A: await load(a), B: await load(b) };
const once = (which) =>
  latency ? mods[which].latencyRun({ rate, seconds }) : mods[which].throughputRun({ total: Number(total) });
const describe = (m) =>
  latency
    ? `p50 ${m.p50.toFixed(2)} ms, p99 ${m.p99.toFixed(2)} ms, max ${m.max.toFixed(1)} ms (${m.arrived}/${m.n})`
    : `${Math.round(m.smsPerSec)} SMS/s, ${m.cpuUsPerSms.toFixed(1)} us CPU/SMS, ${m.loopUsPerSms.toFixed(1)} us loop busy/SMS`;
const fields = latency ? ['p50', 'p99'] : ['smsPerSec', 'cpuUsPerSms', 'loopUsPerSms'];
const rows = [];
for (let r = 0; r < Number(runs); r++) {
  const got = {};
  for (const which of inTurn(['A', 'B'], r)) {
    got[which] = await once(which);
    process.stderr.write(`  run ${r + 1} ${which}: ${describe(got[which])}\n`);
  }
  rows.push(got);
}
const out = (line) => process.stdout.write(`${line}\n`);
const med = (xs) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
for (const f of fields) {
  const ratios = rows.map((r) => r.B[f] / r.A[f]);
  out(
    `${f}: B/A ${ratios.map((x) => x.toFixed(2)).join(', ')} (median ${med(ratios).toFixed(2)}); ` +
      `A ${rows.map((r) => r.A[f].toFixed(1)).join(' / ')}; B ${rows.map((r) => r.B[f].toFixed(1)).join(' / ')}`,
  );
}
