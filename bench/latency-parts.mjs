// What each part of benchmarks 2 and 3 costs: the bridge against the end-to-end floor (bench/lib/floor-pipeline.mjs),
// the floor with fewer parts, and either against the lean SMSC (bench/lib/lean-smsc.mjs) in the simulator's place,
// alternated in one run. Benchmark 3 also reports the driver's own event-loop delay (it publishes, runs the SMSC
// and timestamps): a late timer counts in the latency from the schedule, not in the latency from the write.
//   node bench/latency-parts.mjs [lat|thr] [runs=2] [variant ...]
// variants: bridge, bridge-normal, floor (synchronous full), floor-normal (no fsync), floor-none (no SQLite: aedes
// and smpp alone); a `-lean` suffix runs it against the lean SMSC. Default: all of them, with and without `-lean`.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { latencyRun, throughputRun } from './delivery.mjs';
import { inTurn, log } from './lib/common.mjs';

const [what = 'lat', runsArg = '2', ...picked] = process.argv.slice(2);
const BASE = ['bridge', 'bridge-normal', 'floor', 'floor-normal', 'floor-none'];
const variants = picked.length > 0 ? picked : BASE.flatMap((v) => [v, `${v}-lean`]);

function options(variant) {
  const lean = variant.endsWith('-lean');
  const [server, sync = 'full'] = variant.replace(/-lean$/, '').split('-');
  return { floor: server === 'floor', lean, synchronous: sync };
}

const f2 = (x) => x.toFixed(2);
for (let r = 0; r < Number(runsArg); r++) {
  // alternate the order each run
  for (const v of inTurn(variants, r)) {
    const o = options(v);
    if (what === 'thr') {
      const t = await throughputRun({ total: 20_000, ...o });
      log(
        `${v.padEnd(20)} ${Math.round(t.smsPerSec)} SMS/s (committed ${Math.round(t.committedPerSec)}/s); CPU per SMS: server ${t.cpuUsPerSms.toFixed(0)} us, SMSC ${t.simCpuUsPerSms.toFixed(0)} us, publishers ${t.loadCpuUsPerSms.toFixed(0)} us`,
      );
    } else {
      const delay = monitorEventLoopDelay({ resolution: 1 });
      delay.enable();
      const l = await latencyRun({ rate: 1000, seconds: 8, ...o });
      delay.disable();
      log(
        `${v.padEnd(20)} from the schedule p50 ${f2(l.p50)} p99 ${f2(l.p99)} ms | from the write p50 ${f2(l.p50Written)} p99 ${f2(l.p99Written)} ms | max ${l.max.toFixed(1)} ms (${l.arrived}/${l.n}) | driver's loop delay p99 ${f2(delay.percentile(99) / 1e6)} ms`,
      );
    }
  }
}
