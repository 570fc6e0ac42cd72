// What the bridge's features cost on the libraries alone: benchmark 2 (alert -> SMS, `synchronous: full`) run on
// the end-to-end floor (bench/lib/floor-pipeline.mjs) with one feature added at a time at its least cost, then all
// of them, and the bridge itself (its log at `info`, as benchmark 2 runs it, and at `warn`), alternated in each
// round (the order turns each round). Each variant's server CPU per SMS is compared with the plain floor's in the
// same round.
//   node bench/floor-ladder.mjs [rounds=3] [total=20000]
// Needs `npm run build` (the bridge's run uses dist/).
import { FEATURES, throughputRun } from './delivery.mjs';
import { inTurn, log, median } from './lib/common.mjs';

const [rounds = 3, total = 20_000] = process.argv.slice(2).map(Number);
const VARIANTS = [
  { name: 'floor', floor: true, extras: [] },
  ...FEATURES.map((f) => ({ name: `+${f}`, floor: true, extras: [f] })),
  { name: '+all', floor: true, extras: FEATURES },
  { name: 'bridge', floor: false },
  // the bridge with its log at `warn`: no line per SMS, as Kannel ran in the reference (console logging off)
  { name: 'bridge, log warn', floor: false, logLevel: 'warn' },
];

const runs = Object.fromEntries(VARIANTS.map((v) => [v.name, []]));
for (let r = 0; r < rounds; r++) {
  for (const v of inTurn(VARIANTS, r)) {
    if (v.logLevel) process.env.BENCH_LOG_LEVEL = v.logLevel;
    const m = await throughputRun({ total, floor: v.floor, extras: v.extras }).finally(() => {
      if (v.logLevel) delete process.env.BENCH_LOG_LEVEL;
    });
    runs[v.name].push(m);
    log(
      `  round ${r + 1} ${v.name}: ${Math.round(m.smsPerSec)} SMS/s, server ${m.cpuUsPerSms.toFixed(1)} us CPU/SMS, driver ${(m.simCpuUsPerSms + m.loadCpuUsPerSms).toFixed(1)} us`,
    );
  }
}

// per round: the variant's CPU per SMS minus the plain floor's in the same round
const added = (name) =>
  runs[name].map((m, i) => m.cpuUsPerSms - runs.floor[i].cpuUsPerSms).sort((a, b) => a - b);
const rows = VARIANTS.map((v) => {
  const cpu = median(runs[v.name].map((m) => m.cpuUsPerSms));
  const rate = median(runs[v.name].map((m) => m.smsPerSec));
  const extra =
    v.name === 'floor'
      ? ''
      : added(v.name)
          .map((d) => d.toFixed(1))
          .join(', ');
  return `| ${v.name} | ${Math.round(rate).toLocaleString('en-GB')} | ${cpu.toFixed(1)} | ${extra} |`;
});
const driver = median(runs.floor.map((m) => m.simCpuUsPerSms + m.loadCpuUsPerSms));
process.stdout.write(
  [
    `rounds ${rounds}, ${total} SMS each; the driver (SMSC simulator and publishers) ${driver.toFixed(1)} us CPU per SMS in the floor's runs`,
    '| variant | SMS/s (median) | server CPU per SMS, us (median) | added to the floor in the same round, us (sorted) |',
    '|---|---|---|---|',
    ...rows,
    '',
  ].join('\n'),
);
