// 1. Ingest: 1,000 devices publishing telemetry through the bridge (1,000 rules loaded) vs bare aedes.
import {
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

export async function measureOne({ mode, qos, clients, warmupMs, measureMs, smscPort, cpuProf, dist }) {
  const dir = tempDir();
  const spec = { mode, countTopic: 'devices/+/telemetry', sampleMs: 50, dist };
  if (mode === 'bridge') {
    spec.configFile = writeBridge(dir, { smscPort, rules: manyRules(1000) });
    spec.cwd = dir;
  }
  const server = await startServer(spec, { cpuProf });
  const load = await startLoad(server.ready.port, clients, `${mode}-q${qos}-`);
  try {
    await load.ask(
      { cmd: 'blast', qos, topic: 'devices/{id}/telemetry', payload: PAYLOAD, window: 16 },
      'blasting',
    );
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

export async function runIngest({ runs, clients, warmupMs, measureMs, smscPort }) {
  const results = {
    aedes: { 0: [], 1: [] },
    bridge: { 0: [], 1: [] },
    ratios: { 0: [], 1: [] },
    // aedes' CPU per message over the bridge's, each of its own server process: the same ratio where the server
    // is what limits the rate, and far steadier when the load generator's share of the 2 cores moves
    cpuRatios: { 0: [], 1: [] },
    startups: [],
  };
  for (let r = 0; r < runs; r++) {
    for (const qos of [0, 1]) {
      // alternate which goes first so neither always gets the warmer machine
      const order = r % 2 === 0 ? ['aedes', 'bridge'] : ['bridge', 'aedes'];
      const pair = {};
      const cpu = {};
      for (const mode of order) {
        const m = await measureOne({ mode, qos, clients, warmupMs, measureMs, smscPort });
        pair[mode] = m.rate;
        cpu[mode] = m.cpuPerMsg;
        results[mode][qos].push(m.rate);
        if (mode === 'bridge') results.startups.push(m.startup);
        log(
          `  ingest run ${r + 1} qos${qos} ${mode}: ${Math.round(m.rate)} msg/s, ${m.cpuPerMsg.toFixed(2)} us CPU/msg`,
        );
      }
      results.ratios[qos].push(pair.bridge / pair.aedes);
      results.cpuRatios[qos].push(cpu.aedes / cpu.bridge);
    }
  }
  const summary = {};
  for (const qos of [0, 1]) {
    summary[qos] = {
      aedes: median(results.aedes[qos]),
      bridge: median(results.bridge[qos]),
      ratio: median(results.ratios[qos]),
      ratios: results.ratios[qos],
      cpuRatio: median(results.cpuRatios[qos]),
      cpuRatios: results.cpuRatios[qos],
    };
  }
  return { summary, raw: results };
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
