// Benchmark 2 (alert -> SMS, `synchronous: full`) on a fresh process and on one that has run (issue 14): each run
// of benchmark 2 starts a new server, so its storm pays V8's first optimizing compiles (TurboFan runs on V8's helper
// threads, `--concurrent-recompilation`) and the heap's first growth, which a bridge that has been running paid
// long ago. `warm` runs a storm of `warmup` first alerts from other devices first and measures the next `total`
// (those alerts stay open: the measured storm meets a fuller alert book and larger tables, not emptier ones).
// The bridge and the floor with the bridge's features, cold and warm, alternated in each round (the order turns).
//   node bench/warm.mjs [rounds=4] [total=20000] [warmup=10000]
// Per run: SMS/s; the server's CPU per SMS (all its threads), the main thread's and the other threads' (V8's
// helpers, libuv's pool, workers); then per round the bridge over the floor with features, cold and warm.
import { loadavg } from 'node:os';
import { FEATURES, throughputRun } from './delivery.mjs';
import { inTurn, log, median } from './lib/common.mjs';

const [rounds = 4, total = 20_000, warmup = 10_000] = process.argv.slice(2).map(Number);
const VARIANTS = [
  { name: 'bridge, cold', options: {} },
  { name: 'bridge, warm', options: { warmup } },
  { name: 'features, cold', options: { floor: true, extras: FEATURES } },
  { name: 'features, warm', options: { floor: true, extras: FEATURES, warmup } },
];

const runs = Object.fromEntries(VARIANTS.map((v) => [v.name, []]));
const load = () => loadavg()[0].toFixed(2);
for (let r = 0; r < rounds; r++) {
  for (const v of inTurn(VARIANTS, r)) {
    const before = load();
    const m = await throughputRun({ total, ...v.options });
    m.otherCpuUsPerSms = m.cpuUsPerSms - m.mainCpuUsPerSms;
    runs[v.name].push(m);
    log(
      `  round ${r + 1} ${v.name}: ${Math.round(m.smsPerSec)} SMS/s; server CPU ${m.cpuUsPerSms.toFixed(1)} us/SMS (main thread ${m.mainCpuUsPerSms.toFixed(1)}, other threads ${m.otherCpuUsPerSms.toFixed(1)}); load ${before}-${load()}`,
    );
  }
}

const med = (name, key) => median(runs[name].map((m) => m[key]));
log('\n| variant | SMS/s | server CPU per SMS, us | main thread | other threads |');
log('|---|---|---|---|---|');
for (const v of VARIANTS) {
  log(
    `| ${v.name} | ${Math.round(med(v.name, 'smsPerSec'))} | ${med(v.name, 'cpuUsPerSms').toFixed(1)} | ${med(v.name, 'mainCpuUsPerSms').toFixed(1)} | ${med(v.name, 'otherCpuUsPerSms').toFixed(1)} |`,
  );
}
const ratios = (a, b, key) =>
  runs[a]
    .map((m, i) => m[key] / runs[b][i][key])
    .sort((x, y) => x - y)
    .map((x) => x.toFixed(2))
    .join(', ');
log(
  `\nbridge / features, CPU per SMS, per round (sorted): cold ${ratios('bridge, cold', 'features, cold', 'cpuUsPerSms')}`,
);
log(
  `                                                 warm ${ratios('bridge, warm', 'features, warm', 'cpuUsPerSms')}`,
);
log(`bridge warm / cold, CPU per SMS: ${ratios('bridge, warm', 'bridge, cold', 'cpuUsPerSms')}`);
log(`features warm / cold, CPU per SMS: ${ratios('features, warm', 'features, cold', 'cpuUsPerSms')}`);
