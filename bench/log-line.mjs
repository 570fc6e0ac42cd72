// What one of the bridge's log lines costs (the announcer's line per SMS state): CPU and bytes allocated per line
// (V8's sampling heap profiler, collected objects included), through the bridge's logger and destination
// (`logDestination`, to /dev/null) and, for comparison, sonic-boom's default chunk of 16 KiB.
//   node bench/log-line.mjs [lines=100000]
import { Session } from 'node:inspector/promises';
import pino from 'pino';
import { createLogger, logDestination } from '../dist/logger.js';

const n = Number(process.argv[2] ?? 100_000);
const rec = {
  sms_id: 1,
  to: '+447700900001',
  state: 'submitted',
  rule: 'r1',
  device: 'dev-1',
  connection: 'main',
};
const session = new Session();
session.connect();

async function measure(name, dest) {
  const log = createLogger({ level: 'info' }, dest).child({ module: 'announce' });
  for (let i = 0; i < 10_000; i++) log.info({ ...rec, sms_id: i }, 'SMS submitted'); // warm-up
  await new Promise((r) => setImmediate(r));
  await session.post('HeapProfiler.startSampling', {
    samplingInterval: 4096,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  });
  const t = process.cpuUsage();
  for (let i = 0; i < n; i++) {
    log.info({ ...rec, sms_id: i }, 'SMS submitted');
    // the destination's writes complete between turns of the event loop, as in the bridge
    if (i % 100 === 0) await new Promise((r) => setImmediate(r));
  }
  const c = process.cpuUsage(t);
  const { profile } = await session.post('HeapProfiler.stopSampling');
  let bytes = 0;
  const walk = (node) => {
    bytes += node.selfSize;
    node.children.forEach(walk);
  };
  walk(profile.head);
  process.stdout.write(
    `${name}: ${((c.user + c.system) / n).toFixed(2)} us CPU, ${(bytes / n).toFixed(0)} B allocated per line\n`,
  );
}

await measure('bridge (logDestination)', logDestination('/dev/null'));
await measure('sonic-boom default (16 KiB writes)', pino.destination({ dest: '/dev/null', sync: false }));
