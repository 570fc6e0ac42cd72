// The SQLite writes off the event loop, on the floor (issue 14): benchmark 2 (alert -> SMS, `synchronous: full`)
// on the end-to-end floor (bench/lib/floor-pipeline.mjs) with its SQLite connection on the event loop and on a
// worker thread (`extras: ['worker']`: the same rows, statements and fsync, one message per group commit each
// way), plain and with all of the bridge's features at their least, alternated in each round (the order turns
// each round). Each run records the load average (`uptime`): the worker needs the core the driver leaves idle.
//   node bench/floor-worker.mjs [rounds=6] [total=20000]
// Per run: SMS/s; the server's CPU per SMS (all its threads), the main thread's (Linux), and the event loop's busy
// time per SMS; then per round the worker's figures over the loop's (same features, same round).
import { loadavg } from 'node:os';
import { FEATURES, throughputRun } from './delivery.mjs';
import { inTurn, log, median } from './lib/common.mjs';

const [rounds = 6, total = 20_000] = process.argv.slice(2).map(Number);
const VARIANTS = [
  { name: 'floor', extras: [] },
  { name: 'floor, worker', extras: ['worker'] },
  { name: '+all', extras: FEATURES },
  { name: '+all, worker', extras: [...FEATURES, 'worker'] },
];
const PAIRS = [
  ['floor, worker', 'floor'],
  ['+all, worker', '+all'],
];

const runs = Object.fromEntries(VARIANTS.map((v) => [v.name, []]));
const load = () => loadavg()[0].toFixed(2);
for (let r = 0; r < rounds; r++) {
  for (const v of inTurn(VARIANTS, r)) {
    const before = load();
    const m = await throughputRun({ total, floor: true, extras: v.extras });
    m.load = `${before}-${load()}`;
    runs[v.name].push(m);
    log(
      `  round ${r + 1} ${v.name}: ${Math.round(m.smsPerSec)} SMS/s; server CPU ${m.cpuUsPerSms.toFixed(1)} us/SMS (main thread ${m.mainCpuUsPerSms.toFixed(1)}), loop busy ${m.loopUsPerSms.toFixed(1)} us/SMS; ${m.smsPerCommit.toFixed(1)} SMS per commit, WAL ${Math.round(m.walBytesPerSms)} B/SMS; driver ${(m.simCpuUsPerSms + m.loadCpuUsPerSms).toFixed(1)} us; load ${m.load}`,
    );
  }
}

const med = (name, key) => median(runs[name].map((m) => m[key]));
const rows = VARIANTS.map(
  (v) =>
    `| ${v.name} | ${Math.round(med(v.name, 'smsPerSec')).toLocaleString('en-GB')} | ${med(v.name, 'cpuUsPerSms').toFixed(1)} | ${med(v.name, 'mainCpuUsPerSms').toFixed(1)} | ${med(v.name, 'loopUsPerSms').toFixed(1)} | ${med(v.name, 'smsPerCommit').toFixed(1)} | ${runs[v.name].map((m) => m.load).join(', ')} |`,
);
// per round: the worker's figure over the loop's
const ratios = (a, b, key) =>
  runs[a]
    .map((m, i) => m[key] / runs[b][i][key])
    .sort((x, y) => x - y)
    .map((x) => x.toFixed(2));
const ratioRows = PAIRS.flatMap(([a, b]) =>
  [
    ['SMS/s', 'smsPerSec'],
    ['server CPU per SMS', 'cpuUsPerSms'],
    ['main thread CPU per SMS', 'mainCpuUsPerSms'],
    ['loop busy per SMS', 'loopUsPerSms'],
  ].map(([label, key]) => {
    const r = ratios(a, b, key);
    return `| ${a} / ${b} | ${label} | ${r.join(', ')} | ${median(r.map(Number)).toFixed(2)} |`;
  }),
);
const driver = median(
  Object.values(runs)
    .flat()
    .map((m) => m.simCpuUsPerSms + m.loadCpuUsPerSms),
);
process.stdout.write(
  [
    `rounds ${rounds}, ${total} SMS each; the driver (SMSC simulator and publishers) ${driver.toFixed(1)} us CPU per SMS (median of all runs)`,
    '| variant | SMS/s | server CPU per SMS, us (all threads) | main thread CPU per SMS, us | loop busy per SMS, us | SMS per group commit | load average (1 min) before-after each run |',
    '|---|---|---|---|---|---|---|',
    ...rows,
    '',
    '| pair | figure | per round, sorted | median |',
    '|---|---|---|---|',
    ...ratioRows,
    '',
  ].join('\n'),
);
