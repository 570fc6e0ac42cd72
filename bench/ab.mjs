// Before/after on a loaded machine: bare aedes, a baseline build and this build, interleaved in one run
// (the order rotates each round), so each build is compared by its ratio to bare aedes from the same round.
//   node bench/ab.mjs --base=.scratch/base [--new=.scratch/next] [--also=c2=.scratch/c2,...] [--what=ingest0,ingest1,rss,startup] [--runs=3] [--clients=1000] [--idle-clients=10000]
//     [--metric=cpu|rate]
//   node bench/ab.mjs --profile=ingest0|startup --dir=.scratch/prof   (one bridge run under --cpu-prof)
// --base is another build's dist/ (inside this checkout, so that it finds node_modules): for example
//   git stash && npm run build --silent && cp -a dist .scratch/base && git stash pop && npm run build --silent
// (`cp -a`: src/launch.ts runs dist/bridge.cjs only if it is not older than the compiled files)
import { resolve } from 'node:path';
import { silentLogger } from '../dist/logger.js';
import { SmscSimulator } from '../dist/simulator/smsc.js';
import { rssOnce } from './footprint.mjs';
import { measureOne } from './ingest.mjs';
import {
  arg,
  log,
  manyRules,
  median,
  removeDir,
  sleep,
  startServer,
  tempDir,
  writeBridge,
} from './lib/common.mjs';

const runs = Number(arg('runs', '3'));
const clients = Number(arg('clients', '1000'));
const idleClients = Number(arg('idle-clients', '10000'));
const base = arg('base') ? resolve(arg('base')) : undefined;
const what = arg('what', 'ingest0,ingest1,startup').split(',');
// --metric=cpu compares messages per CPU second of the server instead of messages per second
const cpuMetric = arg('metric', 'cpu') === 'cpu';

const sim = new SmscSimulator({ receipts: false, logger: silentLogger() });
const { port: smscPort } = await sim.start({ port: 0 });

async function startupOnce(dist, cpuProf) {
  const dir = tempDir();
  const configFile = writeBridge(dir, { smscPort, rules: manyRules(1000) });
  const server = await startServer({ mode: 'bridge', configFile, cwd: dir, dist }, { cpuProf });
  await sleep(200);
  await server.stop();
  removeDir(dir);
  return server.ready;
}

// --also=name=path,...: more builds in the same rotation (a chain of changes, each against the one before)
const also = (arg('also') ?? '')
  .split(',')
  .filter(Boolean)
  .map((pair) => ({ name: pair.split('=')[0], dist: resolve(pair.split('=')[1]) }));
const variants = [
  ...(base ? [{ name: 'base', dist: base }] : []),
  ...also,
  { name: 'new', dist: arg('new') ? resolve(arg('new')) : undefined },
];

async function measure(kind, mode, dist) {
  if (kind === 'ingest0' || kind === 'ingest1') {
    const qos = Number(kind.slice(-1));
    const m = await measureOne({ mode, qos, clients, warmupMs: 1000, measureMs: 3000, smscPort, dist });
    // the efficiency ratio: bare aedes' CPU per message over this build's (a rate ratio when CPU-bound)
    log(`    ${mode} ${dist ?? 'dist'}: ${Math.round(m.rate)} msg/s, ${m.cpuPerMsg.toFixed(2)} CPU µs/msg`);
    return cpuMetric ? 1 / m.cpuPerMsg : m.rate;
  }
  if (kind === 'rss') {
    const m = await rssOnce({
      mode,
      clients: idleClients,
      processes: Math.ceil(idleClients / 2500),
      smscPort,
      dist,
    });
    return m.rss / 1048576;
  }
  if (kind === 'startup') {
    if (mode === 'aedes') return Number.NaN;
    const ready = await startupOnce(dist);
    log(
      `    ${dist ?? 'dist'}: ${ready.spawnToReadyMs.toFixed(0)} ms to ready, CPU ${ready.cpuMs.toFixed(0)} ms`,
    );
    return cpuMetric ? ready.cpuMs : ready.spawnToReadyMs;
  }
  throw new Error(`unknown --what ${kind}`);
}

const profile = arg('profile');
if (profile) {
  const dir = resolve(arg('dir', '.scratch/prof'));
  if (profile === 'startup') await startupOnce(undefined, dir);
  else {
    const qos = Number(profile.slice(-1));
    await measureOne({
      mode: 'bridge',
      qos,
      clients,
      warmupMs: 1000,
      measureMs: 3000,
      smscPort,
      cpuProf: dir,
    });
  }
  log(`profile written to ${dir}`);
} else {
  // one start of each build first, unrecorded: a bundled build writes its code cache on its first start, as
  // `npm start` does after a build
  if (what.includes('startup') || what.includes('rss')) for (const v of variants) await startupOnce(v.dist);
  for (const kind of what) {
    const entrants = [...(kind === 'startup' ? [] : [{ name: 'aedes', mode: 'aedes' }]), ...variants];
    const got = Object.fromEntries(entrants.map((e) => [e.name, []]));
    for (let r = 0; r < runs; r++) {
      const order = entrants.map((_, i) => entrants[(i + r) % entrants.length]);
      for (const e of order) {
        const v = await measure(kind, e.mode ?? 'bridge', e.dist);
        got[e.name].push(v);
        log(`  ${kind} run ${r + 1} ${e.name}: ${v.toFixed(1)}`);
      }
    }
    const line = [`${kind} (${runs} runs):`];
    for (const e of entrants) {
      const values = got[e.name];
      let text = `${e.name} median ${median(values).toFixed(1)}`;
      if (kind !== 'startup' && e.name !== 'aedes') {
        const ratios = values.map((v, i) => v / got.aedes[i]);
        text += ` ratio to aedes ${median(ratios).toFixed(2)} (${ratios.map((x) => x.toFixed(2)).join(', ')})`;
      } else text += ` (${values.map((x) => x.toFixed(0)).join(', ')})`;
      line.push(text);
    }
    process.stdout.write(`${line.join('\n  ')}\n`);
  }
}
await sim.stop();
