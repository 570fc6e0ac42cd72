// A preload that times every better-sqlite3 statement call of the process it is loaded into (wall time, the
// main thread's), by SQL: count, total, mean, median, p90, p99, and the time in calls over 100 us (preemption,
// page faults); then the process's resource usage. Written at exit to $STMT_OUT. The timing adds ~1 us per call
// (two hrtime reads): compare runs made with it, not with runs made without it.
//   STMT_OUT=/tmp/b.txt BENCH_SERVER_FLAGS="--require $PWD/bench/lib/stmt-time.cjs" \
//     node -e "import('./bench/delivery.mjs').then((m) => m.throughputRun({ total: 20000, dist: '<dist>' }))"
//   (the floor with the features: `floor: true, extras: m.FEATURES` instead of `dist`)
// STMT_BY_DB=1: each statement keyed by its database's directory too, so that several stores in one process
// (bench/lib/write-path-ab.mjs, one directory per tree) are timed apart:
//   STMT_BY_DB=1 STMT_TREES=A,B STMT_OUT=/tmp/s.txt node --require ./bench/lib/stmt-time.cjs \
//     bench/lib/write-path-ab.mjs A B -- ...
// (STMT_TREES: trees whose own node_modules/better-sqlite3 is timed too, each tree loading its own copy)
// The last lines sum it up: all statements, the time in calls over 100 us, and how much of that overlapped a garbage
// collection (perf_hooks 'gc' entries): a GC on the main thread inside a call would be counted in it.
const { createRequire } = require('node:module');
const { PerformanceObserver, performance } = require('node:perf_hooks');
const { basename, dirname, join } = require('node:path');
const { writeFileSync } = require('node:fs');

const bySql = new Map();
const byStatement = new WeakMap();
/** calls over 100 us as [start, end] in performance.now()'s milliseconds, and the GCs seen */
const longCalls = [];
const gcs = [];
const gcObserver = new PerformanceObserver((list) => {
  for (const e of list.getEntries()) gcs.push([e.startTime, e.startTime + e.duration]);
});
gcObserver.observe({ entryTypes: ['gc'] });
const hrOrigin = Number(process.hrtime.bigint()) / 1e6 - performance.now();
// this directory's better-sqlite3, and those of the trees in STMT_TREES (comma-separated: each tree's own copy)
const trees = [process.cwd(), ...(process.env.STMT_TREES ?? '').split(',').filter(Boolean)];
const protos = new Set(
  trees.map((tree) => {
    const Database = createRequire(join(tree, 'package.json'))('better-sqlite3');
    const probe = new Database(':memory:');
    const proto = Object.getPrototypeOf(probe.prepare('SELECT 1'));
    probe.close();
    return proto;
  }),
);
for (const proto of protos) {
  for (const method of ['run', 'get', 'all']) {
    const original = proto[method];
    proto[method] = function (...args) {
      const t = process.hrtime.bigint();
      try {
        return original.apply(this, args);
      } finally {
        const end = process.hrtime.bigint();
        const ns = Number(end - t);
        if (ns > 100_000) longCalls.push([Number(t) / 1e6 - hrOrigin, Number(end) / 1e6 - hrOrigin]);
        let entry = byStatement.get(this);
        if (!entry) {
          const sql = this.source.replace(/\s+/g, ' ').slice(0, 70);
          const key =
            process.env.STMT_BY_DB === '1' ? `${basename(dirname(this.database.name))} ${sql}` : sql;
          entry = bySql.get(key) ?? { n: 0, ns: 0, each: [] };
          bySql.set(key, entry);
          byStatement.set(this, entry);
        }
        entry.n++;
        entry.ns += ns;
        if (entry.each.length < 200_000) entry.each.push(ns);
      }
    };
  }
}
process.on('exit', () => {
  if (!process.env.STMT_OUT) return;
  const us = (x) => (x / 1e3).toFixed(2).padStart(8);
  const lines = [...bySql]
    .sort((a, b) => b[1].ns - a[1].ns)
    .map(([sql, { n, ns, each }]) => {
      const sorted = [...each].sort((a, b) => a - b);
      const at = (p) => sorted[Math.floor(sorted.length * p)];
      const tail = each.filter((x) => x > 100_000).reduce((a, b) => a + b, 0);
      return (
        `${(ns / 1e6).toFixed(1).padStart(8)} ms ${String(n).padStart(7)} mean ${us(ns / n)} med ${us(at(0.5))} ` +
        `p90 ${us(at(0.9))} p99 ${us(at(0.99))} us, in calls > 100 us ${(tail / 1e6).toFixed(1)} ms  ${sql}`
      );
    });
  const r = process.resourceUsage();
  const usage =
    `# process: user ${(r.userCPUTime / 1e3).toFixed(0)} ms, system ${(r.systemCPUTime / 1e3).toFixed(0)} ms, ` +
    `minor faults ${r.minorPageFault}, major ${r.majorPageFault}, context switches voluntary ` +
    `${r.voluntaryContextSwitches}, involuntary ${r.involuntaryContextSwitches}`;
  for (const e of gcObserver.takeRecords()) gcs.push([e.startTime, e.startTime + e.duration]);
  gcs.sort((a, b) => a[0] - b[0]);
  let total = 0;
  for (const [, entry] of bySql) total += entry.ns;
  let longMs = 0;
  let withGc = 0;
  let withGcMs = 0;
  for (const [start, end] of longCalls) {
    longMs += end - start;
    let lo = 0;
    let hi = gcs.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (gcs[mid][1] < start) lo = mid + 1;
      else hi = mid;
    }
    if (lo < gcs.length && gcs[lo][0] <= end) {
      withGc++;
      withGcMs += end - start;
    }
  }
  const summary =
    `# all statements ${(total / 1e6).toFixed(0)} ms; in ${longCalls.length} calls over 100 us ${longMs.toFixed(0)} ms, ` +
    `of which ${withGc} calls (${withGcMs.toFixed(0)} ms) overlapped one of ${gcs.length} GCs`;
  writeFileSync(process.env.STMT_OUT, `${lines.join('\n')}\n${summary}\n${usage}\n`);
});
