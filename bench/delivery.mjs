// 2. Alert -> SMS throughput, 3. publish -> submit_sm latency, 4. limit utilisation and priority.
// The SMSC simulator and the latency publisher live in this (driver) process, so publish time and submit_sm
// arrival are read from one clock; the bridge runs in its own process.
import { createHistogram } from 'node:perf_hooks';
import { silentLogger } from '../dist/logger.js';
import { SmscSimulator } from '../dist/simulator/smsc.js';
import {
  inTurn,
  log,
  median,
  removeDir,
  sleep,
  startLoad,
  startServer,
  tempDir,
  writeBridge,
} from './lib/common.mjs';
import { LeanSmsc } from './lib/lean-smsc.mjs';
import { publishPacket, rawConnect } from './lib/mqtt-raw.mjs';

const RULES = `
contacts:
  alice: { phone: "+447700900001", name: Alice }
groups:
  ops: [alice]
rules:
  - id: bench
    topic: devices/+/alerts/bench
    to: [ops]
    text: "A{{payload.n}}"
    priority: normal
  - id: repeat
    topic: devices/+/alerts/repeat
    to: [ops]
    text: "R{{payload.n}}"
    priority: normal
    cooldown: 0s
  - id: backlog
    topic: devices/+/alerts/backlog
    to: [ops]
    text: "B{{payload.n}}"
    priority: low
  - id: fire
    topic: devices/+/alerts/fire
    to: [ops]
    text: "FIRE {{payload.n}}"
    priority: critical
`;

/**
 * `floor`: the end-to-end floor (bench/lib/floor-pipeline.mjs) in the bridge's place, window 100; `lean`: the
 * hand-encoded SMSC (bench/lib/lean-smsc.mjs) in the simulator's place.
 */
async function withBridge(
  { synchronous = 'full', connection, simOptions = {}, cpuProf, dist, floor = false, lean = false, extras },
  body,
) {
  const sim = lean
    ? new LeanSmsc()
    : new SmscSimulator({ receipts: false, logger: silentLogger(), ...simOptions });
  const { port } = await sim.start({ port: 0 });
  const dir = tempDir();
  const spec = floor
    ? { mode: 'floor', smscPort: port, synchronous, window: 100, cwd: dir, extras }
    : {
        mode: 'bridge',
        configFile: writeBridge(dir, { smscPort: port, rules: RULES, synchronous, connection }),
        cwd: dir,
        dist,
      };
  const server = await startServer(spec, { cpuProf });
  try {
    for (let i = 0; i < 500 && sim.boundSessions().length === 0; i++) await sleep(10);
    return await body({ sim, server, smscPort: port });
  } finally {
    await server.stop();
    await sim.stop();
    removeDir(dir);
  }
}

const FAST = '      window: 100\n      tps: 1000000';

/** 2. `total` alerts as fast as 50 QoS 1 clients (20 in flight each) can have them committed. */
async function throughputOnce({
  total,
  synchronous,
  cpuProf,
  window,
  dist,
  floor,
  lean,
  extras,
  topic,
  warmup = 0,
}) {
  const connection = window ? `      window: ${window}\n      tps: 1000000` : FAST;
  return withBridge(
    { synchronous, connection, cpuProf, dist, floor, lean, extras },
    async ({ sim, server }) => {
      const clients = 50;
      const perClient = Math.ceil(total / clients);
      const n = perClient * clients;
      const warmPerClient = Math.ceil(warmup / clients);
      const warmN = warmup > 0 ? warmPerClient * clients : 0;
      let lastSubmitAt = 0;
      let submits = 0;
      let warmed;
      const warm = new Promise((resolve) => {
        warmed = resolve;
      });
      const allIn = new Promise((resolve) => {
        sim.on('submit', () => {
          if (++submits === warmN) warmed();
          if (submits === warmN + n) {
            lastSubmitAt = Date.now();
            resolve();
          }
        });
      });
      const load = await startLoad(server.ready.port, clients, 'alerts-');
      // this process runs the SMSC simulator: its CPU and the load generator's, the rest of the machine's work
      const cpuHere = () => (({ user, system }) => user + system)(process.cpuUsage());
      const loadCpu = async () => (await load.ask({ cmd: 'cpu' }, 'cpu', 10_000)).cpuUs;
      try {
        if (warmN > 0) {
          // a storm of other devices' first alerts first: the JIT's first compiles and the heap's first growth
          // happen there, so the measured storm is one a bridge that has run meets
          await load.ask(
            {
              cmd: 'burst',
              perClient: warmPerClient,
              window: 20,
              prefix: 'w',
              kind: 'bench',
              payload: '{"n":{n}}',
              topic,
            },
            'burst-done',
            300_000,
          );
          await Promise.race([warm, sleep(120_000, true)]);
        }
        const [simBefore, loadBefore] = [cpuHere(), await loadCpu()];
        const before = await server.stats();
        const burst = await load.ask(
          { cmd: 'burst', perClient, window: 20, prefix: 'a', kind: 'bench', payload: '{"n":{n}}', topic },
          'burst-done',
          300_000,
        );
        await Promise.race([allIn, sleep(120_000, true)]);
        const after = await server.stats();
        const [simAfter, loadAfter] = [cpuHere(), await loadCpu()];
        const seconds = (lastSubmitAt - burst.firstAt) / 1000;
        return {
          n,
          // the SMSC simulator (with this driver) and the 50 MQTT publishers, per SMS: on the same 2 cores
          simCpuUsPerSms: (simAfter - simBefore) / n,
          loadCpuUsPerSms: (loadAfter - loadBefore) / n,
          // the bridge process's CPU per SMS (intake, commit, submit, status events), idle time excluded
          cpuUsPerSms: (after.cpuUs - before.cpuUs) / n,
          // the event loop's busy time per SMS: CPU plus anything that blocks it (a synchronous fsync)
          loopUsPerSms: ((after.loopActiveMs - before.loopActiveMs) * 1000) / n,
          // the main thread's share of cpuUsPerSms (Linux only, 10 ms ticks; else NaN)
          mainCpuUsPerSms: (after.mainCpuUs - before.mainCpuUs) / n,
          // the same by thread name ('main', 'V8 DefaultWorke' = V8's GC helpers, 'libuv-worker', worker threads)
          threadCpuUsPerSms: after.threadCpuUs
            ? Object.fromEntries(
                Object.entries(after.threadCpuUs).map(([k, v]) => [
                  k,
                  (v - (before.threadCpuUs?.[k] ?? 0)) / n,
                ]),
              )
            : undefined,
          // the floor's group commits: SMS per commit (both its commits counted), WAL bytes per SMS (no checkpoints)
          smsPerCommit: after.floor ? n / (after.floor.commits - before.floor.commits) : undefined,
          walBytesPerSms: after.floor ? (after.floor.walBytes - before.floor.walBytes) / n : undefined,
          smsPerSec: lastSubmitAt ? n / seconds : Number.NaN,
          committedPerSec: n / ((burst.lastAckAt - burst.firstAt) / 1000),
        };
      } finally {
        await load.exit();
      }
    },
  );
}

/** What the bridge must do beyond the floor, each at its least (bench/lib/floor-pipeline.mjs `extras`). */
export const FEATURES = ['savepoint', 'alertstate', 'policy', 'receipts', 'retained', 'log', 'checkpoint'];

/** The storm of other devices' first alerts a `warm` run measures after (bench/warm.mjs). */
export const WARMUP = 10_000;

// Each run: the bridge with `full` and `normal`, the end-to-end floor (`full`) and the floor with the bridge's
// features (`features`), in alternating order; then the bridge and the floor with the features again, each after
// a storm of WARMUP other devices' alerts in the same process (`fullWarm`, `featuresWarm`): what a bridge that has
// been running shows, its code compiled by V8's optimizing compiler and its heap grown.
const KINDS = ['full', 'normal', 'floor', 'features', 'fullWarm', 'featuresWarm'];
const kindOptions = (kind, total) => {
  const warmup = Math.min(WARMUP, total);
  switch (kind) {
    case 'floor':
      return { synchronous: 'full', floor: true };
    case 'features':
      return { synchronous: 'full', floor: true, extras: FEATURES };
    case 'fullWarm':
      return { synchronous: 'full', warmup };
    case 'featuresWarm':
      return { synchronous: 'full', floor: true, extras: FEATURES, warmup };
    default:
      return { synchronous: kind };
  }
};

export async function runThroughput({ runs, total }) {
  const out = Object.fromEntries(KINDS.map((kind) => [kind, []]));
  for (let r = 0; r < runs; r++) {
    for (const kind of inTurn(KINDS, r)) {
      const m = await throughputOnce({ total, ...kindOptions(kind, total) });
      out[kind].push(m);
      log(
        `  alert->SMS run ${r + 1} ${kind}: ${Math.round(m.smsPerSec)} SMS/s (committed ${Math.round(m.committedPerSec)}/s); CPU per SMS: server ${m.cpuUsPerSms.toFixed(0)} us, SMSC simulator ${m.simCpuUsPerSms.toFixed(0)} us, publishers ${m.loadCpuUsPerSms.toFixed(0)} us`,
      );
    }
  }
  const pick = (k, f) => median(out[k].map((m) => m[f]));
  const of = (k) => ({
    smsPerSec: pick(k, 'smsPerSec'),
    committedPerSec: pick(k, 'committedPerSec'),
    // CPU per SMS of the bridge, of the SMSC simulator (this process) and of the publishers: the 2 cores' budget
    cpuUsPerSms: pick(k, 'cpuUsPerSms'),
    simCpuUsPerSms: pick(k, 'simCpuUsPerSms'),
    loadCpuUsPerSms: pick(k, 'loadCpuUsPerSms'),
    mainCpuUsPerSms: pick(k, 'mainCpuUsPerSms'),
  });
  return { ...Object.fromEntries(KINDS.map((kind) => [kind, of(kind)])), raw: out };
}

/**
 * One run of benchmark 2 (for A/B comparisons of the write path, `bench/write-ab.mjs`); `window`: the
 * connection's (default 100), `dist`: another build of the bridge; `topic`: each client's publish topic, `{c}` its
 * number (`devices/r{c}/alerts/repeat`: 50 devices whose alerts repeat, `cooldown: 0s`, a storm of repeats; by
 * default every message is a new device's first alert); `warmup`: measure after a storm of that many other devices'
 * first alerts in the same process (`bench/warm.mjs`); `floor`, `lean`, `extras`: as `withBridge`.
 */
export function throughputRun(options) {
  return throughputOnce({ synchronous: 'full', ...options });
}

export async function profileThroughput({ total, dir }) {
  return throughputOnce({ total, synchronous: 'full', cpuProf: dir });
}

/**
 * Publishes `rate`/s QoS 1 alerts for `seconds` on a schedule fixed in advance; latency is submit_sm arrival
 * minus the scheduled send time, so a late sender counts against us (no coordinated omission).
 */
/**
 * 3. Alerts at `rate`/s for `warmup` + `seconds`; the figures are of the last `seconds` (the process's first
 * second pays for compiling its hot paths: p99 34-46 ms over a whole 10 s run against 12-24 ms from 3 s on,
 * session 5), and `p99All`/`maxAll` of the whole run.
 */
async function latencyOnce({ rate, seconds, synchronous, trace, warmup = 2, dist, floor, lean }) {
  return withBridge({ synchronous, connection: FAST, dist, floor, lean }, async ({ sim, server }) => {
    const client = await rawConnect(server.ready.port, { clientId: 'latency' });
    client.setHandler(() => undefined);
    const n = rate * (warmup + seconds);
    const measuredFrom = rate * warmup;
    const interval = 1000 / rate;
    const scheduled = new Float64Array(n);
    // when each publish was written: the driver's timers fire up to ~1 ms after the schedule
    const written = new Float64Array(n);
    const fromWrite = createHistogram({ lowest: 1, highest: 60_000_000, figures: 3 });
    const hist = createHistogram({ lowest: 1, highest: 60_000_000, figures: 3 });
    const all = createHistogram({ lowest: 1, highest: 60_000_000, figures: 3 });
    let arrived = 0;
    let done;
    const finished = new Promise((resolve) => {
      done = resolve;
    });
    sim.on('submit', (sms) => {
      const at = performance.now();
      const i = Number(sms.text.slice(1));
      if (!Number.isInteger(i) || i >= n) return;
      const us = Math.max(1, Math.round((at - scheduled[i]) * 1000));
      all.record(us);
      if (i >= measuredFrom) {
        hist.record(us);
        fromWrite.record(Math.max(1, Math.round((at - written[i]) * 1000)));
      }
      trace?.push([performance.timeOrigin + scheduled[i], at - scheduled[i]]);
      if (++arrived === n) done();
    });
    const start = performance.now() + 50;
    for (let i = 0; i < n; i++) scheduled[i] = start + i * interval;
    let next = 0;
    await new Promise((resolve) => {
      const tick = () => {
        const now = performance.now();
        const parts = [];
        while (next < n && scheduled[next] <= now) {
          parts.push(
            publishPacket(`devices/l${next}/alerts/bench`, `{"n":${next}}`, 1, (next % 65535) + 1).buf,
          );
          next++;
        }
        const at = performance.now();
        for (let k = next - parts.length; k < next; k++) written[k] = at;
        if (parts.length > 0) client.socket.write(parts.length === 1 ? parts[0] : Buffer.concat(parts));
        if (next < n) setTimeout(tick, Math.max(0, scheduled[next] - performance.now() - 0.5));
        else resolve();
      };
      setTimeout(tick, 50);
    });
    await Promise.race([finished, sleep(30_000)]);
    client.socket.destroy();
    const us = (p) => hist.percentile(p) / 1000;
    return {
      n,
      arrived,
      p50: us(50),
      p99: us(99),
      max: hist.max / 1000,
      p50Written: fromWrite.percentile(50) / 1000,
      p99Written: fromWrite.percentile(99) / 1000,
      p99All: all.percentile(99) / 1000,
      maxAll: all.max / 1000,
    };
  });
}

/**
 * One run of benchmark 3 (for A/B comparisons, `bench/write-ab.mjs --latency`); `trace`: an array that gets
 * `[scheduled publish (epoch ms), latency (ms)]` per alert, to line the tail up with stalls; `dist`: another
 * build of the bridge.
 */
export function latencyRun({ rate, seconds, synchronous = 'full', trace, dist, floor, lean }) {
  return latencyOnce({ rate, seconds, synchronous, trace, dist, floor, lean });
}

export async function runLatency({ runs, rate, seconds }) {
  const out = { full: [], normal: [], floor: [] };
  for (let r = 0; r < runs; r++) {
    // the floor with the bridge's features is a throughput figure only
    for (const kind of inTurn(['full', 'normal', 'floor'], r)) {
      const m = await latencyOnce({ rate, seconds, ...kindOptions(kind) });
      out[kind].push(m);
      log(
        `  latency run ${r + 1} ${kind}: p50 ${m.p50.toFixed(2)} ms p99 ${m.p99.toFixed(2)} ms max ${m.max.toFixed(1)} ms; first 2 s included: p99 ${m.p99All.toFixed(2)} ms max ${m.maxAll.toFixed(1)} ms; from the write: p50 ${m.p50Written.toFixed(2)} p99 ${m.p99Written.toFixed(2)} ms (${m.arrived}/${m.n})`,
      );
    }
  }
  const sum = (k) => ({
    p50: median(out[k].map((m) => m.p50)),
    p99: median(out[k].map((m) => m.p99)),
    max: median(out[k].map((m) => m.max)),
    p99All: median(out[k].map((m) => m.p99All)),
    p50Written: median(out[k].map((m) => m.p50Written)),
    p99Written: median(out[k].map((m) => m.p99Written)),
  });
  return { full: sum('full'), normal: sum('normal'), floor: sum('floor'), raw: out };
}

/**
 * 4. SMSC at `tps` parts/s (0x58 above it), bridge configured for the same: a `low` backlog committed while
 * the SMSC is down, the SMSC back, then the accepted rate over `seconds` from `settleMs` after the bind (the
 * first second of slots, all free at the bind, goes at the pacer's rate: reported apart as
 * `settleUtilisation`), then one `critical` alert behind the backlog. Sending starts once the backlog is
 * committed: with the SMSC up during the burst, the seconds after it still carried its tail (event-loop stalls
 * of 50-180 ms in the bridge, slots bunched by them and then spread by the pacer), which measures ingest, not
 * the limiter. 0x58 are counted over the whole run.
 */
async function limitOnce({ tps, backlog, seconds, settleMs = 1000, dist }) {
  return withBridge(
    { connection: `      window: 10\n      tps: ${tps}`, simOptions: { tps }, dist },
    async ({ sim, server, smscPort }) => {
      const accepted = [];
      await sim.stop();
      let fireAt = 0;
      sim.on('submit', (sms) => {
        accepted.push(performance.now());
        if (sms.text.startsWith('FIRE')) fireAt = performance.now();
      });
      const load = await startLoad(server.ready.port, 50, 'backlog-');
      const burst = await load.ask(
        {
          cmd: 'burst',
          perClient: backlog / 50,
          window: 20,
          prefix: 'b',
          kind: 'backlog',
          payload: '{"n":{n}}',
        },
        'burst-done',
        120_000,
      );
      await load.exit();
      await sim.start({ port: smscPort });
      for (let i = 0; i < 1000 && sim.boundSessions().length === 0; i++) await sleep(5);
      const settleFrom = performance.now();
      const throttledBefore = sim.throttledAnswers;
      await sleep(settleMs);
      const from = performance.now();
      await sleep(seconds * 1000);
      const to = performance.now();
      const window = accepted.filter((t) => t >= from && t < to);
      const inWindow = window.length;
      const inSettle = accepted.filter((t) => t >= settleFrom && t < from).length;
      const client = await rawConnect(server.ready.port, { clientId: 'fire' });
      client.setHandler(() => undefined);
      const sentAt = performance.now();
      client.socket.write(publishPacket('devices/f1/alerts/fire', '{"n":1}', 1, 1).buf);
      for (let i = 0; i < 500 && fireAt === 0; i++) await sleep(2);
      client.socket.destroy();
      // under two seconds of parts (a short smoke run) only the count is left
      const sustained = sustainedRate(window, tps) || (inWindow * 1000) / (to - from);
      return {
        achieved: sustained,
        utilisation: sustained / tps,
        // parts counted in the window over its length: it depends on the slots' phases when the window starts
        // a whole number of seconds after the bind (each slot fits 9 or 10 uses), up to 1.0 for a cycle of 1.01 s
        windowUtilisation: (inWindow * 1000) / (to - from) / tps,
        settleUtilisation: from > settleFrom ? (inSettle * 1000) / (from - settleFrom) / tps : Number.NaN,
        throttled: sim.throttledAnswers,
        throttledInWindow: sim.throttledAnswers - throttledBefore,
        backlogCommittedMs: burst.lastAckAt - burst.firstAt,
        criticalMs: fireAt ? fireAt - sentAt : Number.NaN,
        tokenMs: 1000 / tps,
      };
    },
  );
}

/**
 * Parts per second sustained: part i and part i + k·tps (one-part SMS, one connection, arrival order = send
 * order) are k uses of the same limiter slot apart, so k·tps over their spacing is the rate whatever the
 * window's phase; averaged over the first tps parts of the window, k as large as the window allows.
 */
function sustainedRate(times, tps) {
  const k = Math.floor(times.length / tps) - 1;
  if (k < 1) return Number.NaN;
  let sum = 0;
  for (let f = 0; f < tps; f++) sum += (k * tps * 1000) / (times[f + k * tps] - times[f]);
  return sum / tps;
}

/** One run of benchmark 4 (for A/B comparisons of the limiter; `dist`: another build of the bridge). */
export function limitRun(options) {
  return limitOnce(options);
}

export async function runLimits({ runs, tps, backlog, seconds }) {
  const out = [];
  for (let r = 0; r < runs; r++) {
    const m = await limitOnce({ tps, backlog, seconds });
    out.push(m);
    log(
      `  limits run ${r + 1}: ${m.achieved.toFixed(2)}/${tps} parts/s sustained (counted in the window ${m.windowUtilisation.toFixed(4)}, settle second ${m.settleUtilisation.toFixed(3)}), 0x58 x${m.throttled}, critical after ${m.criticalMs.toFixed(1)} ms`,
    );
  }
  const pick = (f) => median(out.map((m) => m[f]));
  return {
    achieved: pick('achieved'),
    utilisation: pick('utilisation'),
    throttled: pick('throttled'),
    criticalMs: pick('criticalMs'),
    tokenMs: 1000 / tps,
    raw: out,
  };
}
