// Ingest as CPU per message like bench/ingest-cpu.mjs, but every entrant's server and clients start once and stay
// up, and the entrants take turns one short pass at a time (rotating the order each round): a pass of
// 50 x 3,000 messages takes ~0.4 s, so a change of load on a shared machine hits the passes of one round alike,
// and the median of the per-round ratios is steadier than ingest-cpu.mjs's 7 fresh processes (per-round aedes/this
// interquartile range ~0.05-0.09 instead of ~0.15-0.3 at load 4-6). Prints quartiles.
//   node bench/ingest-cpu-interleaved.mjs [--base=.scratch/base] [--also=c1=.scratch/c1,...] [--new=DIST]
//     [--rounds=40] [--processes=3] (servers per entrant) [--qos=0] [--clients=50] [--messages=3000] (per client,
//     per pass) [--telemetry-rules=2]
import { silentLogger } from '../dist/logger.js';
import { SmscSimulator } from '../dist/simulator/smsc.js';
import { arg, manyRules, median, removeDir, startServer, tempDir, writeBridge } from './lib/common.mjs';
import { cpuArgs, cpuPass, entrantsFromArgs } from './lib/ingest-cpu-pass.mjs';
import { rawConnect } from './lib/mqtt-raw.mjs';

const { rounds, qos, clients, perClient, telemetryRules } = cpuArgs({ rounds: 40, messages: 3000 });

const entrants = entrantsFromArgs();

const sim = new SmscSimulator({ receipts: false, logger: silentLogger() });
const { port: smscPort } = await sim.start({ port: 0 });

const pass = (conns, server) => cpuPass(conns, server, { qos, perClient });

async function up(e) {
  const dir = tempDir();
  const spec = { mode: e.mode, countTopic: 'devices/+/telemetry', dist: e.dist };
  if (e.mode === 'bridge') {
    spec.configFile = writeBridge(dir, { smscPort, rules: manyRules(1000, { telemetryRules }) });
    spec.cwd = dir;
  }
  const server = await startServer(spec, {});
  const conns = [];
  for (let i = 0; i < clients; i++) {
    const c = await rawConnect(server.ready.port, { clientId: `cpu-${i}` });
    c.id = `dev-${i}`;
    conns.push(c);
  }
  await pass(conns, server);
  await pass(conns, server);
  return { server, conns, dir };
}
const got = Object.fromEntries(entrants.map((e) => [e.name, []]));
// a server process is one sample of what it got from the JIT and the heap's layout, which stays for its whole
// life and moved one build's median by 5-10% between otherwise identical runs: several processes per entrant
const processes = Number(arg('processes', '3'));
const running = [];
for (let j = 0; j < processes; j++) for (const e of entrants) running.push({ e, ...(await up(e)) });
for (let r = 0; r < rounds; r++) {
  for (let i = 0; i < running.length; i++) {
    const k = (i + r) % running.length;
    const v = await pass(running[k].conns, running[k].server);
    got[running[k].e.name].push(v);
  }
}
for (const { server, conns, dir } of running) {
  for (const c of conns) c.socket.destroy();
  await server.stop();
  removeDir(dir);
}
/** first quartile/median/third quartile */
const q = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const at = (f) => s[Math.floor(f * (s.length - 1))].toFixed(3);
  return `${at(0.25)}/${at(0.5)}/${at(0.75)}`;
};
const lines = [
  `ingest QoS ${qos}, ${clients} clients x ${perClient} messages, ${rounds} rounds (CPU µs per message):`,
];
for (const e of entrants) {
  const v = got[e.name];
  const ratios = v.map((x, i) => got.aedes[i] / x);
  lines.push(
    `${e.name}: median ${median(v).toFixed(3)} µs, min ${Math.min(...v).toFixed(3)} µs; aedes/this median ${median(ratios).toFixed(3)}${got.base ? `; base/this ${q(v.map((x, i) => got.base[i] / x))}` : ''}; aedes/this quartiles ${q(ratios)}`,
  );
}
process.stdout.write(`${lines.join('\n  ')}\n`);
await sim.stop();
