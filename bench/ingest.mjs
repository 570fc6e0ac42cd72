// 1. Ingest: 1,000 devices publishing telemetry through the bridge (1,000 rules loaded) vs bare aedes.
import {
  inTurn,
  log,
  manyRules,
  median,
  removeDir,
  sleep,
  startLoad,
  startServer,
  tempDir,
  writeBridge,
} from './lib/common.mjs';

const PAYLOAD = '{"temp":21.5,"state":"running","rpm":1450}';

/** A server (bare aedes, or the bridge with 1,000 rules in `dir`) sampled every 50 ms, and its load generator. */
async function startEntrant({ mode, qos, clients, smscPort, dir, cpuProf, dist }) {
  const spec = { mode, countTopic: 'devices/+/telemetry', sampleMs: 50, dist };
  if (mode === 'bridge') {
    spec.configFile = writeBridge(dir, { smscPort, rules: manyRules(1000) });
    spec.cwd = dir;
  }
  const server = await startServer(spec, { cpuProf });
  return { server, load: await startLoad(server.ready.port, clients, `${mode}-q${qos}-`) };
}

/** Every client of `load` publishes telemetry as fast as the server takes it, until stopped. */
const blast = (load, qos) =>
  load.ask({ cmd: 'blast', qos, topic: 'devices/{id}/telemetry', payload: PAYLOAD, window: 16 }, 'blasting');

export async function measureOne({ mode, qos, clients, warmupMs, measureMs, smscPort, cpuProf, dist }) {
  const dir = tempDir();
  const { server, load } = await startEntrant({ mode, qos, clients, smscPort, dir, cpuProf, dist });
  try {
    await blast(load, qos);
    const from = Date.now() + warmupMs;
    const to = from + measureMs;
    await sleep(warmupMs + measureMs + 100);
    await load.exit();
    const { samples, rss } = await server.ask({ cmd: 'samples' }, 'samples');
    return {
      rate: rateBetween(samples, from, to),
      cpuPerMsg: cpuPerMessage(samples, from, to),
      rss,
      startup: server.ready,
    };
  } finally {
    if (load.child.exitCode === null) await load.exit();
    await server.stop();
    removeDir(dir);
  }
}

/** CPU µs the server spent per message over the window (steadier than the rate on a shared machine). */
function cpuPerMessage(samples, from, to) {
  const [a, b] = windowOf(samples, from, to);
  if (!a || !b || a[2] === undefined || b[1] === a[1]) return Number.NaN;
  return (b[2] - a[2]) / (b[1] - a[1]);
}

function windowOf(samples, from, to) {
  let a;
  let b;
  for (const s of samples) {
    if (s[0] <= from) a = s;
    if (s[0] >= to && !b) b = s;
  }
  return [a, b];
}

/** Messages per second between the last sample at or before `from` and the first at or after `to`. */
function rateBetween(samples, from, to) {
  const [a, b] = windowOf(samples, from, to);
  if (!a || !b) return Number.NaN;
  return ((b[1] - a[1]) * 1000) / (b[0] - a[0]);
}

/**
 * Bare aedes and the bridge, each with its load generator, up at once for the whole benchmark; they take turns
 * (the order alternating) blasting for `warmupMs` + `measureMs`, then a pause while the queues drain. A ratio is
 * taken per round, from two windows a few seconds apart: the first version started a fresh server per
 * measurement, and consecutive runs of bare aedes alone read 220,413-346,466 msg/s on this quiet machine
 * (BENCHMARKS.md, session 6), so its per-run ratios moved 66-120%. One discarded round first (the JIT, caches).
 */
async function interleaved({ qos, rounds, clients, warmupMs, measureMs, smscPort }) {
  const dir = tempDir();
  const up = {};
  try {
    for (const mode of ['aedes', 'bridge'])
      up[mode] = await startEntrant({ mode, qos, clients, smscPort, dir });
    const out = { aedes: [], bridge: [], ratios: [], cpuRatios: [], startup: up.bridge.server.ready };
    for (let r = 0; r <= rounds; r++) {
      const pair = {};
      for (const mode of inTurn(['aedes', 'bridge'], r)) {
        const { server, load } = up[mode];
        await blast(load, qos);
        const from = Date.now() + warmupMs;
        const to = from + measureMs;
        await sleep(warmupMs + measureMs + 100);
        await load.ask({ cmd: 'stop' }, 'stopped');
        await sleep(300);
        const { samples } = await server.ask({ cmd: 'samples' }, 'samples');
        pair[mode] = { rate: rateBetween(samples, from, to), cpu: cpuPerMessage(samples, from, to) };
      }
      if (r === 0) continue; // the warm-up round
      for (const mode of ['aedes', 'bridge']) out[mode].push(pair[mode]);
      out.ratios.push(pair.bridge.rate / pair.aedes.rate);
      out.cpuRatios.push(pair.aedes.cpu / pair.bridge.cpu);
      log(
        `  ingest round ${r} qos${qos}: aedes ${Math.round(pair.aedes.rate)} msg/s ${pair.aedes.cpu.toFixed(2)} us CPU/msg, bridge ${Math.round(pair.bridge.rate)} msg/s ${pair.bridge.cpu.toFixed(2)} us CPU/msg`,
      );
    }
    return out;
  } finally {
    for (const { server, load } of Object.values(up)) {
      if (load.child.exitCode === null) await load.exit();
      await server.stop();
    }
    removeDir(dir);
  }
}

export async function runIngest({ runs, clients, warmupMs, measureMs, smscPort }) {
  const summary = {};
  const raw = {};
  for (const qos of [0, 1]) {
    const m = await interleaved({ qos, rounds: runs, clients, warmupMs, measureMs, smscPort });
    raw[qos] = m;
    summary[qos] = {
      aedes: median(m.aedes.map((x) => x.rate)),
      bridge: median(m.bridge.map((x) => x.rate)),
      ratio: median(m.ratios),
      ratios: m.ratios,
      cpuRatio: median(m.cpuRatios),
      cpuRatios: m.cpuRatios,
    };
  }
  return { summary, raw };
}

/** One bridge run under --cpu-prof, for the profile notes. */
export async function profileIngest({ qos, clients, smscPort, dir }) {
  return measureOne({
    mode: 'bridge',
    qos,
    clients,
    warmupMs: 1000,
    measureMs: 3000,
    smscPort,
    cpuProf: dir,
  });
}
