// QoS 1 publishes per second through the embedded broker, aedes' in-memory persistence vs BrokerPersistence on
// SQLite (WAL, synchronous FULL). npm run build --silent && node bench/broker-state.mjs [messages] [runs]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import mqtt from 'mqtt';
import { openAccess } from '../dist/broker/bus.js';
import { EmbeddedBroker } from '../dist/broker/embedded.js';
import { BrokerPersistence } from '../dist/broker/persistence.js';
import { silentLogger } from '../dist/logger.js';
import { SqliteBrokerStateRepository } from '../dist/store/sqlite/broker-state.js';

const total = Number(process.argv[2] ?? 5000);
const runs = Number(process.argv[3] ?? 3);
const window = 100;
const topic = 'devices/pump-7/telemetry';

async function once(durable, subscriber) {
  const dir = mkdtempSync(join(tmpdir(), 'bench-broker-state-'));
  const db = durable ? new Database(join(dir, 'bridge.db')) : undefined;
  db?.pragma('journal_mode = WAL');
  db?.pragma('synchronous = FULL');
  const broker = new EmbeddedBroker({
    host: '127.0.0.1',
    port: 0,
    access: openAccess,
    intake: async () => undefined,
    logger: silentLogger(),
    persistence: db
      ? new BrokerPersistence({
          repository: new SqliteBrokerStateRepository(db),
          logger: silentLogger(),
          maxQueuedPerClient: total + 1,
        })
      : undefined,
  });
  await broker.start();
  const url = `mqtt://127.0.0.1:${broker.port}`;
  let received = 0;
  let sub;
  if (subscriber !== 'none') {
    sub = await mqtt.connectAsync(url, {
      clientId: 'sub',
      clean: subscriber === 'clean',
      reconnectPeriod: 0,
    });
    await sub.subscribeAsync(topic, { qos: 1 });
    sub.on('message', () => received++);
    if (subscriber === 'persistent-offline') {
      await sub.endAsync();
      sub = undefined;
    }
  }
  const pub = await mqtt.connectAsync(url, { clientId: 'pub', clean: true, reconnectPeriod: 0 });
  const started = process.hrtime.bigint();
  let next = 0;
  const worker = async () => {
    while (next < total) {
      next++;
      await pub.publishAsync(topic, '{"temp":42}', { qos: 1 });
    }
  };
  await Promise.all(Array.from({ length: window }, worker));
  while (sub && received < total) await new Promise((r) => setImmediate(r));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  await pub.endAsync();
  await sub?.endAsync();
  await broker.stop();
  db?.close();
  rmSync(dir, { recursive: true, force: true });
  return total / seconds;
}

const median = (xs) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
await once(false, 'clean'); // warm-up: JIT, socket paths
await once(true, 'persistent-online');
const rows = [];
for (const subscriber of ['none', 'clean', 'persistent-online', 'persistent-offline']) {
  const rate = { memory: [], sqlite: [] };
  // memory and sqlite runs alternate, so a busy neighbour on the machine weighs on both alike
  for (let i = 0; i < runs; i++) {
    for (const durable of [false, true])
      rate[durable ? 'sqlite' : 'memory'].push(await once(durable, subscriber));
  }
  rate.memory = Math.round(median(rate.memory));
  rate.sqlite = Math.round(median(rate.sqlite));
  rows.push({ subscriber, ...rate, ratio: (rate.sqlite / rate.memory).toFixed(2) });
}
process.stdout.write(`${total} QoS 1 publishes, ${window} in flight, median of ${runs}\n`);
for (const r of rows) process.stdout.write(`${JSON.stringify(r)}\n`);
