// Start-up with 1,000 rules, phase by phase, in CPU time of the process: several builds alternated in fresh
// processes (ABBA), medians per phase, and each build's total CPU over the first build's in the same round.
// On a loaded machine this resolves changes of a few percent that spawn -> ready (bench/ab.mjs) does not.
//   node bench/startup-phases.mjs [--runs=12] [--flags-<i>="--min-semi-space-size=4"] <dist> [<dist> ...]
// Each <dist> is a build's dist/ with its bridge.cjs (`cp -a dist .scratch/x && rm .scratch/x/*.cache`); the
// launcher's flags are read from its launch.js, plus --flags-<i> for the i-th build (0-based). A build's first
// start is not counted (it writes the code cache, as `npm start` does after a build).
// One process: --phases=<dist> <config> <dir> prints that start's phases as JSON.
import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import { PerformanceObserver, performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import {
  arg,
  launcherFlags,
  log,
  manyRules,
  median,
  removeDir,
  tempDir,
  writeBridge,
} from './lib/common.mjs';

const cpuMs = () => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
};

/** One start, as bench/lib/server-child.mjs makes it, with the wall and CPU time of each phase. */
async function phases(dist, configFile, cwd) {
  let gcMs = 0;
  let gcs = 0;
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      gcMs += entry.duration;
      gcs++;
    }
  }).observe({ type: 'gc' });
  const marks = [['node', performance.now(), cpuMs()]];
  const mark = (name) => marks.push([name, performance.now(), cpuMs()]);
  const { runBundle } = await import(pathToFileURL(`${dist}/cli/code-cache.js`).href);
  const bundle = runBundle(`${dist}/bridge.cjs`);
  mark('run bundle');
  const { App, loadBridgeConfig, createLogger, logDestination } = await bundle.exports.benchParts();
  mark('modules');
  const config = loadBridgeConfig(configFile);
  mark('bridge config');
  const logger = createLogger({ level: 'info', pretty: false }, logDestination('/dev/null'));
  const app = new App({ config, logger, cwd, watch: false });
  mark('rules (new App)');
  await app.start();
  mark('App.start()');
  bundle.saveCache();
  await new Promise((resolve) => setTimeout(resolve, 20));
  const out = { cacheUsed: bundle.cacheUsed, gcMs, gcs, phases: {} };
  for (let i = 0; i < marks.length; i++) {
    const [name, at, cpu] = marks[i];
    out.phases[name] = i === 0 ? [at, cpu] : [at - marks[i - 1][1], cpu - marks[i - 1][2]];
  }
  out.total = marks.at(-1).slice(1);
  process.stdout.write(`${JSON.stringify(out)}\n`);
  await app.stop();
}

const self = fileURLToPath(import.meta.url);
if (arg('phases')) {
  const [configFile, cwd] = process.argv.slice(3);
  await phases(arg('phases'), configFile, cwd);
  process.exit(0);
}

const dists = process.argv
  .slice(2)
  .filter((a) => !a.startsWith('--'))
  .map((d) => resolve(d));
const runs = Number(arg('runs', '12'));
const dir = tempDir();
const configFile = writeBridge(dir, { smscPort: 1, rules: manyRules(1000) });
const once = (d, i) => {
  const flags = [...launcherFlags(d), ...(arg(`flags-${i}`) ?? '').split(' ').filter(Boolean)];
  const text = execFileSync(process.execPath, [...flags, self, `--phases=${d}`, configFile, dir]);
  return JSON.parse(text.toString());
};
// the first start of each build writes its code cache: not counted
dists.forEach((d, i) => {
  once(d, i);
});
const got = dists.map(() => []);
for (let r = 0; r < runs; r++) {
  const order = dists.map((_, i) => i);
  if (r % 2 === 1) order.reverse();
  for (const i of order) got[i].push(once(dists[i], i));
  log(`round ${r + 1}: ${got.map((g) => g.at(-1).total[1].toFixed(0)).join(' ')} CPU ms`);
}
removeDir(dir);
const f = (x) => x.toFixed(1);
dists.forEach((d, i) => {
  const rs = got[i];
  const lines = [`${d} (code cache used: ${rs.every((o) => o.cacheUsed)})`];
  for (const name of Object.keys(rs[0].phases)) {
    lines.push(
      `${name}: wall ${f(median(rs.map((o) => o.phases[name][0])))} ms, CPU ${f(median(rs.map((o) => o.phases[name][1])))} ms`,
    );
  }
  lines.push(
    `total: wall ${f(median(rs.map((o) => o.total[0])))} ms, CPU ${f(median(rs.map((o) => o.total[1])))} ms`,
  );
  lines.push(`GC: ${f(median(rs.map((o) => o.gcMs)))} ms in ${median(rs.map((o) => o.gcs))} pauses`);
  if (i > 0) {
    const ratios = rs.map((o, r) => o.total[1] / got[0][r].total[1]);
    lines.push(
      `CPU / first build's: median ${ratios.length ? median(ratios).toFixed(3) : 'n/a'} (${ratios.map((x) => x.toFixed(2)).join(', ')})`,
    );
  }
  process.stdout.write(`${lines.join('\n  ')}\n`);
});
