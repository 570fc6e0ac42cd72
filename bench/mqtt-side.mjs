// The MQTT side of an alert -> SMS in one process: an embedded broker (aedes, the bridge's persistence on SQLite
// `:memory:`, the app's two taps, anonymous clients) takes QoS 1 alerts from raw clients on fresh topics (as
// benchmark 2: every message a new device's first alert); for each, intake emits what the bridge announces per
// SMS: the retained alert topic and two SMS state lines (`queued`, `submitted`) through the bridge's logger to
// /dev/null. No rules, store writes or SMPP. Prints the process's CPU per message (clients included: the same
// in both builds). Alternated between two builds, each run its own process:
//   node bench/mqtt-side.mjs <distA> <distB> [pairs=10] [total=20000]
// One build: node bench/mqtt-side.mjs --one <dist> [total=20000]
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { abScript } from './lib/common.mjs';
import { publishPacket, rawConnect } from './lib/mqtt-raw.mjs';

async function one(dist, total) {
  const d = (p) => import(pathToFileURL(resolve(dist, p)).href);
  const [
    { EmbeddedBroker },
    { BrokerPersistence },
    { bridgeTopicFilters },
    { createAccess },
    { DeviceRegistry },
    { Announcer },
    { Events },
    { createLogger, logDestination },
    { SqliteStore },
    { createTopics },
  ] = await Promise.all(
    [
      'broker/embedded.js',
      'broker/persistence.js',
      'broker/limits.js',
      'devices/access.js',
      'devices/registry.js',
      'announce.js',
      'events.js',
      'logger.js',
      'store/sqlite/sqlite-store.js',
      'topics.js',
    ].map(d),
  );
  const logger = createLogger({ level: 'info', pretty: false }, logDestination('/dev/null'));
  const events = new Events(logger);
  const topics = createTopics();
  const store = new SqliteStore({ path: ':memory:' });
  await store.start();
  const alertTopics = topics.alert('');
  let id = 0;
  const now = Date.now();
  const intake = (message) => {
    const n = ++id;
    const device = message.topic.split('/')[1];
    events.emit('alert.changed', {
      id: n,
      ref: `A${n}`,
      rule: 'bench',
      device,
      state: 'open',
      priority: 'normal',
      step: 0,
      count: 1,
      openedAt: now,
      ackedBy: null,
      ackedAt: null,
      resolvedAt: null,
      reason: null,
      at: now,
    });
    const sms = {
      id: n,
      state: 'queued',
      to: '+447700900001',
      text: `A${n}`,
      priority: 'normal',
      source: 'rule',
      ruleId: 'bench',
      deviceId: device,
      alertRef: `A${n}`,
      connectionId: null,
      attempts: 0,
      errorCode: null,
      error: null,
      partsTotal: 1,
      partsDelivered: 0,
      partsFailed: 0,
      createdAt: now,
      updatedAt: now,
      expiresAt: now + 3_600_000,
    };
    events.emit('sms.status', sms);
    events.emit('sms.status', { ...sms, state: 'submitted', connectionId: 'main', attempts: 1 });
    return undefined;
  };
  const broker = new EmbeddedBroker({
    host: '127.0.0.1',
    port: 0,
    access: createAccess({ registry: DeviceRegistry.empty(), allowAnonymous: true, accounts: [], logger }),
    intake,
    persistence: new BrokerPersistence({
      repository: () => store.brokerState(),
      logger,
      republished: (topic) => topic.startsWith(alertTopics),
    }),
    bridgeTopics: bridgeTopicFilters('sms-bridge'),
    logger,
  });
  await broker.start();
  await broker.subscribe('devices/+/telemetry', () => undefined);
  await broker.subscribe('devices/+/commands/result', () => undefined);
  new Announcer({ events, bus: broker, topics, logger });
  const clients = [];
  for (let c = 0; c < 10; c++) clients.push(await rawConnect(broker.port, { clientId: `alerts-${c}` }));
  let k = 0;
  const round = (n) =>
    new Promise((done) => {
      const t = process.cpuUsage();
      const per = n / clients.length;
      let acked = 0;
      for (const c of clients) {
        let sent = 0;
        let inflight = 0;
        const send = () => {
          const parts = [];
          while (inflight < 20 && sent < per) {
            parts.push(
              publishPacket(
                `devices/a${clients.indexOf(c)}x${k++}/alerts/bench`,
                `{"n":${k}}`,
                1,
                (sent % 65535) + 1,
              ).buf,
            );
            sent++;
            inflight++;
          }
          if (parts.length > 0) c.socket.write(parts.length === 1 ? parts[0] : Buffer.concat(parts));
        };
        c.setHandler((type) => {
          if (type !== 4) return;
          inflight--;
          if (++acked === n) {
            const u = process.cpuUsage(t);
            done((u.user + u.system) / n);
          } else send();
        });
        send();
      }
    });
  await round(4000); // warm-up
  const us = await round(total);
  for (const c of clients) c.socket.destroy();
  await broker.stop();
  await store.stop();
  return us;
}

await abScript(import.meta.url, 'node bench/mqtt-side.mjs <distA> <distB> [pairs] [total]', one);
