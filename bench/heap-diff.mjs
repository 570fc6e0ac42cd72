// What each idle MQTT connection costs in the JS heap, by constructor: the bridge and bare aedes, each with 0 and
// N idle clients, heap snapshots after a full GC, (N - 0) / N per constructor, then the bridge less aedes.
//   node bench/heap-diff.mjs [--clients=2000] [--dist=.scratch/base] [--top=30] [--keep=dir]
// About 1 minute and 150 MB of snapshots (deleted unless --keep). Issue 14, BENCHMARKS.md "Start-up and footprint".
import { readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { silentLogger } from '../dist/logger.js';
import { SmscSimulator } from '../dist/simulator/smsc.js';
import {
  arg,
  log,
  manyRules,
  removeDir,
  sleep,
  startLoad,
  startServer,
  tempDir,
  writeBridge,
} from './lib/common.mjs';

const clients = Number(arg('clients', '2000'));
const dist = arg('dist') ? resolve(arg('dist')) : undefined;
const top = Number(arg('top', '30'));
const out = resolve(arg('keep') ?? tempDir());

/** self size and count per `type:name` of a V8 heap snapshot */
function byConstructor(file) {
  const s = JSON.parse(readFileSync(file, 'utf8'));
  const fields = s.snapshot.meta.node_fields;
  const types = s.snapshot.meta.node_types[0];
  const [t, n, z] = ['type', 'name', 'self_size'].map((f) => fields.indexOf(f));
  const sums = new Map();
  for (let i = 0; i < s.nodes.length; i += fields.length) {
    const type = types[s.nodes[i + t]];
    const name = /string|code|array|hidden/.test(type) ? '' : s.strings[s.nodes[i + n]];
    const key = `${type}:${name}`;
    const e = sums.get(key) ?? { count: 0, bytes: 0 };
    e.count++;
    e.bytes += s.nodes[i + z];
    sums.set(key, e);
  }
  return sums;
}

async function snapshot(mode, n, smscPort) {
  const dir = tempDir();
  const spec = { mode, dist };
  if (mode === 'bridge') {
    spec.configFile = writeBridge(dir, { smscPort, rules: manyRules(1000) });
    spec.cwd = dir;
  }
  const server = await startServer(spec, { exposeGc: true });
  const loads = [];
  try {
    for (let p = 0; p * 2500 < n; p++) {
      loads.push(await startLoad(server.ready.port, Math.min(2500, n - p * 2500), `idle${p}-`, 600));
    }
    await sleep(2000);
    const file = join(out, `${mode}-${n}.heapsnapshot`);
    await server.ask({ cmd: 'heapsnapshot', file }, 'heapsnapshot', 300_000);
    return byConstructor(file);
  } finally {
    for (const l of loads) await l.exit();
    await server.stop();
    removeDir(dir);
  }
}

/** per connection: (with n clients - with none) / n */
function perConnection(empty, full, n) {
  const rows = new Map();
  for (const [k, e] of full) {
    const e0 = empty.get(k) ?? { count: 0, bytes: 0 };
    rows.set(k, { count: (e.count - e0.count) / n, bytes: (e.bytes - e0.bytes) / n });
  }
  for (const [k, e0] of empty) if (!full.has(k)) rows.set(k, { count: -e0.count / n, bytes: -e0.bytes / n });
  return rows;
}

const sim = new SmscSimulator({ receipts: false, logger: silentLogger() });
const { port: smscPort } = await sim.start({ port: 0 });
const per = {};
for (const mode of ['aedes', 'bridge']) {
  per[mode] = perConnection(
    await snapshot(mode, 0, smscPort),
    await snapshot(mode, clients, smscPort),
    clients,
  );
  const total = [...per[mode].values()].reduce((a, r) => a + r.bytes, 0);
  log(`${mode}: ${total.toFixed(0)} bytes of JS heap per idle connection (${clients} clients)`);
}
const extra = [...per.bridge].map(([k, r]) => {
  const a = per.aedes.get(k) ?? { count: 0, bytes: 0 };
  return [k, r.count - a.count, r.bytes - a.bytes];
});
for (const [k, r] of per.aedes) if (!per.bridge.has(k)) extra.push([k, -r.count, -r.bytes]);
extra.sort((x, y) => Math.abs(y[2]) - Math.abs(x[2]));
process.stdout.write(`bridge less aedes, per connection (bytes, objects, type:constructor):\n`);
for (const [k, count, bytes] of extra.slice(0, top)) {
  process.stdout.write(`${bytes.toFixed(0).padStart(7)} ${count.toFixed(2).padStart(6)}  ${k}\n`);
}
await sim.stop();
if (!arg('keep')) rmSync(out, { recursive: true, force: true });
