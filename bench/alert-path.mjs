// The alert path in one process, without the network: intake -> alert decision -> SQLite (:memory:) commit ->
// events (the retained alert topic to a bus that keeps the last payload per topic, the SMS state lines through
// the bridge's logger to /dev/null) and a `submitted` event per SMS as the sender makes one. Prints the
// process's CPU per message. Alternated between two builds, each run its own process:
//   node bench/alert-path.mjs <distA> <distB> [pairs=10] [total=20000]
// One build: node bench/alert-path.mjs --one <dist> [total=20000]
import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const RULES = `
contacts:
  alice: { phone: "+447700900001", name: Alice }
groups:
  ops: [alice]
rules:
  - id: bench
    topic: devices/+/alerts/bench
    to: [ops]
    text: "A{{payload.n}}"
    priority: normal
    cooldown: 0s
`;

async function one(dist, total) {
  const d = (p) => import(pathToFileURL(resolve(dist, p)).href);
  const [
    { AlertEngine },
    { Announcer },
    { Events },
    { createLogger, logDestination },
    { compileRules },
    { SqliteStore },
    { createTopics },
    { Intake },
  ] = await Promise.all(
    [
      'alerts/alert-engine.js',
      'announce.js',
      'events.js',
      'logger.js',
      'rules/compile.js',
      'store/sqlite/sqlite-store.js',
      'topics.js',
      'intake.js',
    ].map(d),
  );
  const logger = createLogger({ level: 'info', pretty: false }, logDestination('/dev/null'));
  const events = new Events(logger);
  const retained = new Map();
  const bus = {
    start: async () => undefined,
    stop: async () => undefined,
    subscribe: async () => undefined,
    hasSubscribers: () => false,
    publish: (topic, payload, o) => {
      if (o?.retain) retained.set(topic, payload);
      return Promise.resolve();
    },
  };
  new Announcer({ events, bus, topics: createTopics(), logger });
  const store = new SqliteStore({ path: ':memory:' });
  await store.start();
  const rules = compileRules([{ file: 'r.yaml', text: RULES }]);
  const engine = new AlertEngine({ rules: () => rules, store, events, maxAgeMs: () => 3_600_000, logger });
  await engine.start();
  const intake = new Intake({
    alerts: engine,
    rules: () => rules,
    devices: { device: () => undefined },
    logger,
  });
  events.on('sms.status', (sms) => {
    if (sms.state === 'queued')
      queueMicrotask(() => events.emit('sms.status', { ...sms, state: 'submitted', connectionId: 'main' }));
  });
  let k = 0;
  const round = async (n) => {
    const t = process.cpuUsage();
    for (let done = 0; done < n; done += 64) {
      const ps = [];
      for (let j = 0; j < 64; j++, k++)
        ps.push(
          intake.handle({ topic: `devices/d${k}/alerts/bench`, payload: Buffer.from(`{"n":${k}}`) }, 'c'),
        );
      await Promise.all(ps);
    }
    const c = process.cpuUsage(t);
    return (c.user + c.system) / n;
  };
  await round(4000); // warm-up
  const us = await round(total);
  await engine.stop();
  await store.stop();
  return us;
}

const args = process.argv.slice(2);
if (args[0] === '--one') {
  process.stdout.write(`${(await one(args[1], Number(args[2] ?? 20000))).toFixed(2)}\n`);
} else {
  const [a, b, pairs = '10', total = '20000'] = args;
  if (!a || !b) throw new Error('usage: node bench/alert-path.mjs <distA> <distB> [pairs] [total]');
  const self = fileURLToPath(import.meta.url);
  const run = (dist) => Number(execFileSync(process.execPath, [self, '--one', dist, total]).toString());
  const ratios = [];
  for (let i = 0; i < Number(pairs); i++) {
    const got = {};
    for (const which of i % 2 ? ['B', 'A'] : ['A', 'B']) got[which] = run(which === 'A' ? a : b);
    ratios.push(got.B / got.A);
    process.stderr.write(`  pair ${i + 1}: A ${got.A.toFixed(1)} us, B ${got.B.toFixed(1)} us per message\n`);
  }
  const s = [...ratios].sort((x, y) => x - y);
  const m = s.length >> 1;
  const median = s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
  process.stdout.write(`B/A ${ratios.map((r) => r.toFixed(3)).join(', ')} (median ${median.toFixed(3)})\n`);
}
