// Ingest as CPU per message, for before/after comparisons on a shared machine: every client's messages are
// written at once (QoS 0 or a window of QoS 1), so the server always has a full read buffer and its CPU per
// message does not depend on how fast a load generator gets scheduled. Bare aedes and builds alternate.
//   node bench/ingest-cpu.mjs [--base=.scratch/base] [--also=c1=.scratch/c1,...] [--rounds=5] [--qos=0]
//     [--clients=50] [--messages=4000] (per client) [--profile=DIR [--profile-of=new|base|aedes]]
//     [--telemetry-rules=2] (of the 1,000 rules, how many watch the benchmark's topic: 0 gives the cost of the rest)
import { resolve } from 'node:path';
import { silentLogger } from '../dist/logger.js';
import { SmscSimulator } from '../dist/simulator/smsc.js';
import { arg, log, manyRules, median, removeDir, startServer, tempDir, writeBridge } from './lib/common.mjs';
import { cpuArgs, cpuPass, entrantsFromArgs } from './lib/ingest-cpu-pass.mjs';
import { rawConnect } from './lib/mqtt-raw.mjs';

const { rounds, qos, clients, perClient, telemetryRules } = cpuArgs({ rounds: 5, messages: 4000 });

const entrants = entrantsFromArgs();

const sim = new SmscSimulator({ receipts: false, logger: silentLogger() });
const { port: smscPort } = await sim.start({ port: 0 });

const pass = (conns, server) => cpuPass(conns, server, { qos, perClient });

// --profile=DIR: one run of one entrant (default `new`) under --cpu-prof instead of the comparison
const profileDir = arg('profile') ? resolve(arg('profile')) : undefined;
const profiled = entrants.find((e) => e.name === (arg('profile-of') ?? 'new'));

async function once(e) {
  const dir = tempDir();
  const spec = { mode: e.mode, countTopic: 'devices/+/telemetry', dist: e.dist };
  if (e.mode === 'bridge') {
    spec.configFile = writeBridge(dir, { smscPort, rules: manyRules(1000, { telemetryRules }) });
    spec.cwd = dir;
  }
  const server = await startServer(spec, { cpuProf: e.cpuProf });
  const conns = [];
  try {
    for (let i = 0; i < clients; i++) {
      const c = await rawConnect(server.ready.port, { clientId: `cpu-${i}` });
      c.id = `dev-${i}`;
      conns.push(c);
    }
    await pass(conns, server); // warm-up: JIT, caches
    return await pass(conns, server);
  } finally {
    for (const c of conns) c.socket.destroy();
    await server.stop();
    removeDir(dir);
  }
}

const got = Object.fromEntries(entrants.map((e) => [e.name, []]));
if (profileDir) {
  log(`  profiled: ${(await once({ ...profiled, cpuProf: profileDir })).toFixed(2)} CPU µs/msg`);
  await sim.stop();
  process.exit(0);
}
for (let r = 0; r < rounds; r++) {
  for (let i = 0; i < entrants.length; i++) {
    const e = entrants[(i + r) % entrants.length];
    const v = await once(e);
    got[e.name].push(v);
    log(`  round ${r + 1} ${e.name}: ${v.toFixed(2)} CPU µs/msg`);
  }
}
const lines = [
  `ingest QoS ${qos}, ${clients} clients x ${perClient} messages, ${rounds} rounds (CPU µs per message):`,
];
for (const e of entrants) {
  const v = got[e.name];
  const ratios = v.map((x, i) => got.aedes[i] / x);
  lines.push(
    `${e.name}: median ${median(v).toFixed(2)} µs, min ${Math.min(...v).toFixed(2)} µs; aedes/this ${median(ratios).toFixed(2)} (${ratios.map((x) => x.toFixed(2)).join(', ')})`,
  );
}
process.stdout.write(`${lines.join('\n  ')}\n`);
await sim.stop();
