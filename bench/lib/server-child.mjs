// The system under test in its own process: the bridge (dist/, as `npm start` runs it) or bare aedes.
// argv[2] is a JSON spec; IPC commands: stats, stop.
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { getHeapSpaceStatistics, writeHeapSnapshot } from 'node:v8';

const spec = JSON.parse(process.argv[2]);
// BENCH_MARKS_OUT=<file>: at exit, a JSON list of [name, epoch ms, value] marks: each GC (its duration), each
// event-loop stall over 3 ms (its length), and whatever a patched copy of dist/ marks with `globalThis.__mk?.(name)`
// (the stage timings of BENCHMARKS.md's latency sections were taken that way)
if (process.env.BENCH_MARKS_OUT) {
  const marks = [];
  globalThis.__mk = (name, n) => marks.push([name, performance.timeOrigin + performance.now(), n ?? 0]);
  process.on('exit', () => writeFileSync(process.env.BENCH_MARKS_OUT, JSON.stringify(marks)));
  const { PerformanceObserver } = await import('node:perf_hooks');
  new PerformanceObserver((l) => {
    for (const e of l.getEntries())
      marks.push(['gc', performance.timeOrigin + e.startTime, e.duration, e.detail?.kind]);
  }).observe({ entryTypes: ['gc'] });
  let last = performance.now();
  setInterval(() => {
    const now = performance.now();
    if (now - last > 3) marks.push(['stall', performance.timeOrigin + last, now - last - 1]);
    last = now;
  }, 1).unref();
}
// another build of the bridge (an absolute path) for before/after runs; default: this checkout's dist/
const dist = spec.dist ?? '../../dist';
let count = 0;
let app;
let stopBroker;
let firstBoundMs;
let countFn = () => count;
/** the floor's group commits and WAL bytes (floor-pipeline.mjs) */
let floorCounters;

// As `npm start` runs it (src/launch.ts): dist/bridge.cjs from its code cache when the build has one; a build
// from before the bundle (a baseline) from its files.
async function bridgeParts() {
  if (existsSync(new URL(`${dist}/bridge.cjs`, import.meta.url))) {
    const { runBundle } = await import(`${dist}/cli/code-cache.js`);
    const bundle = runBundle(fileURLToPath(new URL(`${dist}/bridge.cjs`, import.meta.url)));
    return { ...(await bundle.exports.benchParts()), saveCache: bundle.saveCache };
  }
  const [{ App }, { loadBridgeConfig }, { createLogger, logDestination }, pino] = await Promise.all([
    import(`${dist}/app.js`),
    import(`${dist}/config/load-bridge.js`),
    import(`${dist}/logger.js`),
    import('pino'),
  ]);
  return { App, loadBridgeConfig, createLogger, logDestination, pino: pino.default };
}

async function startBridge() {
  const t0 = performance.now();
  const { App, loadBridgeConfig, createLogger, logDestination, pino, saveCache } = await bridgeParts();
  const tImported = performance.now();
  const config = loadBridgeConfig(spec.configFile);
  const logger = createLogger(
    { level: spec.logLevel ?? process.env.BENCH_LOG_LEVEL ?? 'info', pretty: false },
    // a file for runs that count what the bridge warned about (bench/cluster.mjs); default nowhere
    spec.logFile
      ? pino.destination({ dest: spec.logFile, sync: true })
      : // as the build logs to stdout (builds from before logDestination: pino's default destination)
        (logDestination ?? ((dest) => pino.destination({ dest, sync: false })))('/dev/null'),
  );
  app = new App({ config, logger, cwd: spec.cwd, watch: false });
  await app.start();
  const tReady = performance.now();
  saveCache?.();
  for (const link of app.links) {
    if (link.bound) firstBoundMs ??= performance.now();
    else link.once('bound', () => (firstBoundMs ??= performance.now()));
  }
  // Counted where intake sees each message, not by another subscriber: an extra in-process subscriber costs
  // aedes ~30% of its throughput, and bare aedes gets exactly one (the counting one).
  countFn = () => app.intake.messagesIn;
  stopBroker = () => app.stop();
  return { port: app.broker.port, importMs: tImported - t0, appStartMs: tReady - tImported };
}

async function startAedes() {
  const t0 = performance.now();
  const { Aedes } = await import('aedes');
  const tImported = performance.now();
  // ablations, to see what part of the bridge's cost is aedes' own reaction to an async authorizePublish
  const aedes = await Aedes.createBroker(
    spec.asyncAuthorize
      ? { authorizePublish: (_client, _packet, callback) => Promise.resolve().then(() => callback(null)) }
      : {},
  );
  if (spec.extraSubscriber) {
    await new Promise((resolve) => aedes.subscribe(spec.countTopic, (_packet, done) => done(), resolve));
  }
  const server = createServer(aedes.handle);
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  if (spec.countTopic) {
    await new Promise((resolve) =>
      aedes.subscribe(
        spec.countTopic,
        (_packet, done) => {
          count++;
          done();
        },
        resolve,
      ),
    );
  }
  stopBroker = () =>
    new Promise((resolve) => {
      server.close();
      aedes.close(resolve);
    });
  return { port: server.address().port, importMs: tImported - t0, appStartMs: performance.now() - tImported };
}

// utime + stime of the main thread from /proc (fields 14 and 15, after the command name's closing parenthesis)
const mainThreadCpuUs = () => {
  try {
    const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10_000;
  } catch {
    return undefined;
  }
};

// utime + stime per thread name (/proc/self/task/*/comm: 'node' is the main thread and worker threads,
// 'V8 DefaultWorke' V8's helpers (parallel GC), 'libuv-worker' the thread pool), us
const threadCpuUs = () => {
  const by = {};
  try {
    for (const tid of readdirSync('/proc/self/task')) {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const key = Number(tid) === process.pid ? 'main' : `${name}+${Number(tid) - process.pid}`;
      by[key] = (by[key] ?? 0) + (Number(fields[11]) + Number(fields[12])) * 10_000;
    }
  } catch {
    return undefined;
  }
  return by;
};

function stats() {
  const mem = process.memoryUsage();
  return {
    at: performance.now(),
    count: countFn(),
    rss: mem.rss,
    cpu: cpuMicros(),
    heapUsed: mem.heapUsed,
    // committed and used bytes per V8 space (bench/footprint.mjs: where RSS that is not live objects sits)
    heapSpaces: Object.fromEntries(
      getHeapSpaceStatistics().map((s) => [s.space_name, { size: s.space_size, used: s.space_used_size }]),
    ),
    messagesIn: app?.intake.messagesIn,
    bound: app ? app.links.every((l) => l.bound) : true,
    boundMs: firstBoundMs,
    connected: app ? app.broker.connectedClients : undefined,
    // external broker only (private fields, read for diagnosis): messages taken in and not settled, and refused
    brokerInFlight: app?.broker.inFlight,
    brokerRefused: app?.broker.refused,
    // user + system CPU of this process, microseconds: the cost per message, which load on the machine moves
    // far less than wall-clock rates
    cpuUs: (({ user, system }) => user + system)(process.cpuUsage()),
    // time the event loop was busy (not waiting in epoll), ms: what a blocking fsync adds to and CPU time not
    loopActiveMs: performance.eventLoopUtilization().active,
    // the main thread's own CPU (Linux, 10 ms ticks), us: cpuUs less this is the other threads' (GC helpers,
    // libuv's pool, worker threads)
    mainCpuUs: mainThreadCpuUs(),
    threadCpuUs: threadCpuUs(),
    floor: floorCounters?.(),
  };
}

// Sampled by the process itself: under a QoS 0 flood the IPC channel can wait a long time for its turn,
// so the driver reads the samples afterwards and picks its window by wall-clock time.
const samples = [];
// [time, messages, CPU µs of this process]: CPU per message is what a loaded machine does not distort much
const cpuMicros = () => {
  const u = process.cpuUsage();
  return u.user + u.system;
};
if (spec.sampleMs)
  setInterval(() => samples.push([Date.now(), countFn(), cpuMicros()]), spec.sampleMs).unref();

process.on('message', (msg) => {
  if (msg.cmd === 'samples') {
    process.send({ type: 'samples', samples: samples.splice(0), ...stats() });
  } else if (msg.cmd === 'stats') {
    if (msg.gc && global.gc) global.gc();
    process.send({ type: 'stats', ...stats() });
  } else if (msg.cmd === 'heapsnapshot') {
    // bench/heap-diff.mjs: what the process keeps, after a full GC when --expose-gc is on
    if (global.gc) global.gc();
    process.send({ type: 'heapsnapshot', file: writeHeapSnapshot(msg.file) });
  } else if (msg.cmd === 'stop') {
    const done = () => allocProfile().then(() => process.send({ type: 'stopped' }, () => process.exit(0)));
    Promise.resolve(stopBroker?.()).then(done, done);
  }
});

// BENCH_ALLOC_PROF=<file.heapprofile>: V8's sampling heap profiler from ready to stop, counting objects that
// scavenges and mark-compacts collected too, so it shows where the allocation that keeps the GC busy comes from
// (`--heap-prof` keeps only what is still alive at exit). Open the file in Chrome's DevTools, Memory tab.
let inspector;
const allocProfile = async () => {
  if (!inspector) return;
  const post = (method, params) =>
    new Promise((resolve, reject) =>
      inspector.post(method, params, (err, res) => (err ? reject(err) : resolve(res))),
    );
  const { profile } = await post('HeapProfiler.stopSampling');
  writeFileSync(process.env.BENCH_ALLOC_PROF, JSON.stringify(profile));
  inspector = undefined;
};
// node:inspector is loaded only then: importing it costs ~5 ms CPU, which the start-up figure (ready) counted though
// `npm start` never loads it
const startAllocProfile = () => {
  if (!process.env.BENCH_ALLOC_PROF) return;
  const { Session } = process.getBuiltinModule('node:inspector');
  inspector = new Session();
  inspector.connect();
  inspector.post('HeapProfiler.startSampling', {
    samplingInterval: 16384,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  });
};

// the end-to-end floor: benchmarks 2, 3 and 5 on the libraries alone (floor-pipeline.mjs)
async function startFloorPipeline() {
  const t0 = performance.now();
  const { startFloor } = await import('./floor-pipeline.mjs');
  const floor = await startFloor({ ...spec, dir: spec.cwd });
  stopBroker = floor.stop;
  floorCounters = floor.counters;
  return { port: floor.port, importMs: 0, appStartMs: performance.now() - t0 };
}

const starts = { bridge: startBridge, floor: startFloorPipeline, aedes: startAedes };
(starts[spec.mode] ?? startAedes)().then(
  (info) => {
    startAllocProfile();
    process.send({
      type: 'ready',
      sinceProcessStartMs: performance.now(),
      cpuMs: cpuMicros() / 1000,
      ...info,
    });
  },
  (err) => {
    process.send({ type: 'error', error: String(err?.stack ?? err) });
    process.exit(1);
  },
);
