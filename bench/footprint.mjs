// 6. Footprint: RSS with idle connected clients (bridge vs bare aedes, interleaved), start-up to ready.
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

export async function rssOnce({ mode, clients, processes, smscPort, dist }) {
  const dir = tempDir();
  const spec = { mode, dist };
  if (mode === 'bridge') {
    spec.configFile = writeBridge(dir, { smscPort, rules: manyRules(1000) });
    spec.cwd = dir;
  }
  const server = await startServer(spec);
  const loads = [];
  try {
    const per = Math.ceil(clients / processes);
    // one generator process at a time: connecting is the expensive part, and 2 cores are shared
    for (let p = 0; p < processes; p++) {
      loads.push(await startLoad(server.ready.port, Math.min(per, clients - p * per), `idle${p}-`, 600));
    }
    await sleep(3000);
    const s = await server.stats();
    return { rss: s.rss, heapUsed: s.heapUsed, connected: s.connected, startup: server.ready };
  } finally {
    for (const l of loads) await l.exit();
    await server.stop();
    removeDir(dir);
  }
}

export async function runFootprint({ runs, clients, processes, smscPort }) {
  const out = { aedes: [], bridge: [], ratios: [], startups: [] };
  for (let r = 0; r < runs; r++) {
    const pair = {};
    for (const mode of inTurn(['aedes', 'bridge'], r)) {
      const m = await rssOnce({ mode, clients, processes, smscPort });
      pair[mode] = m.rss;
      out[mode].push(m.rss);
      if (mode === 'bridge') out.startups.push(m.startup);
      log(`  footprint run ${r + 1} ${mode}: ${(m.rss / 1048576).toFixed(0)} MB RSS, ${clients} clients`);
    }
    out.ratios.push(pair.bridge / pair.aedes);
  }
  return {
    aedesMb: median(out.aedes) / 1048576,
    bridgeMb: median(out.bridge) / 1048576,
    ratio: median(out.ratios),
    startups: out.startups,
    raw: out,
  };
}

/** Fresh processes, nothing connected: spawn -> App.start() resolved, and -> SMPP bound. */
export async function runStartup({ runs, smscPort }) {
  const out = [];
  for (let r = 0; r < runs; r++) {
    const dir = tempDir();
    const configFile = writeBridge(dir, { smscPort, rules: manyRules(1000) });
    const server = await startServer({ mode: 'bridge', configFile, cwd: dir });
    await sleep(300);
    const s = await server.stats();
    out.push({ ...server.ready, boundMs: s.boundMs });
    await server.stop();
    removeDir(dir);
  }
  const pick = (f) => median(out.map((m) => m[f]));
  return {
    spawnToReadyMs: pick('spawnToReadyMs'),
    sinceProcessStartMs: pick('sinceProcessStartMs'),
    importMs: pick('importMs'),
    appStartMs: pick('appStartMs'),
    boundMs: pick('boundMs'),
    raw: out,
  };
}
