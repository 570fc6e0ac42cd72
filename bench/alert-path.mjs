// The alert path in one process, without the network: intake -> alert decision -> SQLite (:memory:) commit ->
// events (the retained alert topic to a bus that keeps the last payload per topic, the SMS state lines through
// the bridge's logger to /dev/null) and a `submitted` event per SMS as the sender makes one. Prints the
// process's CPU per message. Alternated between two builds, each run its own process:
//   node bench/alert-path.mjs <distA> <distB> [pairs=10] [total=20000]
// One build: node bench/alert-path.mjs --one <dist> [total=20000]
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { abScript } from './lib/common.mjs';

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

await abScript(import.meta.url, 'node bench/alert-path.mjs <distA> <distB> [pairs] [total]', one);
