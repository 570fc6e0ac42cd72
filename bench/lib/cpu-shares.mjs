// Inclusive shares of a CPU profile of the bridge under benchmark 2, by part (a sample counts for every part with
// a frame in its stack, so they overlap), as in BENCHMARKS.md's breakdowns (sessions 4 and 6). Profile a build
// without its bundle, so that frames name their modules:
//   cp -r dist /tmp/pd && rm /tmp/pd/bridge.cjs*
//   BENCH_SERVER_FLAGS='--cpu-prof --cpu-prof-dir=/tmp/prof' \
//     node -e "import('./bench/delivery.mjs').then((m) => m.throughputRun({ total: 20000, dist: '/tmp/pd' }))"
//   node bench/lib/cpu-shares.mjs /tmp/prof/<the main thread's>.cpuprofile /pd/
import { readFileSync } from 'node:fs';

const [file, root = '/dist/'] = process.argv.slice(2);
const p = JSON.parse(readFileSync(file, 'utf8'));
const byId = new Map(p.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const time = new Map();
for (let i = 0; i < p.samples.length; i++)
  time.set(p.samples[i], (time.get(p.samples[i]) ?? 0) + (p.timeDeltas[i + 1] ?? 0));
const rel = (url) => {
  const i = url.indexOf(root);
  return i >= 0 ? url.slice(i + root.length) : '';
};
const SENDER = /^smpp\/(sender|lane|plan|segment|encoding|submit-limiter|message-id|receipt-match)\.js$/;
const parts = {
  'store (dist/store, its statements included)': (_f, d) => d.startsWith('store/'),
  'sender (smpp/sender, lane, plan, segment, encoding, limiter, receipt-match; outbox.js)': (_f, d) =>
    SENDER.test(d) || d === 'outbox.js',
  'SMPP session (smpp/session*, submit-pdu, reading-session, the smpp package)': (f, d) =>
    /^smpp\/(session|submit-pdu|reading-session)/.test(d) || f.url.includes('/node_modules/smpp/'),
  'status events (announce, sms-json, iso-time)': (_f, d) =>
    d === 'announce.js' || d === 'sms-json.js' || d === 'iso-time.js',
  '  of which SMS states (Announcer.sms)': (f, d) => d === 'announce.js' && f.functionName === 'sms',
  '  of which the retained alert topic (Announcer.alert)': (f, d) =>
    d === 'announce.js' && f.functionName === 'alert',
  'log lines (pino, sonic-boom)': (f) => /node_modules\/(pino|sonic-boom)\//.test(f.url),
  'aedes (aedes, mqtt-packet, qlobber, mqemitter)': (f) =>
    /node_modules\/(aedes[^/]*|mqtt-packet|qlobber|mqemitter)\//.test(f.url),
  'alerts (dist/alerts)': (_f, d) => d.startsWith('alerts/'),
  'rules (dist/rules)': (_f, d) => d.startsWith('rules/'),
  'intake (intake.js; the embedded broker’s intake and authorizePublish)': (f, d) =>
    d === 'intake.js' || (d === 'broker/embedded.js' && /intake|authorizePublish/.test(f.functionName)),
};
const acc = Object.fromEntries(Object.keys(parts).map((k) => [k, 0]));
let busy = 0;
let gc = 0;
let program = 0;
for (const [id, dt] of time) {
  const leaf = byId.get(id).callFrame;
  if (leaf.functionName === '(idle)') continue;
  busy += dt;
  if (leaf.functionName === '(garbage collector)') gc += dt;
  if (leaf.functionName === '(program)') program += dt;
  const hit = new Set();
  for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
    const f = byId.get(cur).callFrame;
    const d = rel(f.url);
    for (const [k, test] of Object.entries(parts)) if (!hit.has(k) && test(f, d)) hit.add(k);
  }
  for (const k of hit) acc[k] += dt;
}
const pct = (x) => `${((100 * x) / busy).toFixed(1)}%`;
const out = (line) => process.stdout.write(`${line}\n`);
out(`busy ${(busy / 1000).toFixed(0)} ms; garbage collection ${pct(gc)}; (program) ${pct(program)}`);
for (const [k, v] of Object.entries(acc)) out(`${pct(v).padStart(6)}  ${k}`);
