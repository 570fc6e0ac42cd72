import { join } from 'node:path';
import Database from 'better-sqlite3';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Announcer } from '../../src/announce.js';
import { type BusMessage, openAccess } from '../../src/broker/bus.js';
import { EmbeddedBroker } from '../../src/broker/embedded.js';
import { BrokerPersistence } from '../../src/broker/persistence.js';
import { type AlertEvent, Events } from '../../src/events.js';
import { silentLogger } from '../../src/logger.js';
import { SqliteBrokerStateRepository } from '../../src/store/sqlite/broker-state.js';
import type { SmsRecord } from '../../src/store/store.js';
import { createTopics } from '../../src/topics.js';
import { tempDir, waitFor } from '../helpers/harness.js';

const STATUS = 'sms-bridge/sms/outbound/+';

const sms = (id: number): SmsRecord => ({
  id,
  to: '+447700900001',
  text: 'hello',
  priority: 'normal',
  source: 'api',
  expiresAt: 0,
  state: 'queued',
  createdAt: 0,
  updatedAt: 0,
  attempts: 0,
  connectionId: null,
  errorCode: null,
  error: null,
  partsTotal: 1,
  partsDelivered: 0,
  partsFailed: 0,
});

/** SMS status events skipped while nothing subscribes, heard by whoever subscribes, from then on. */
describe('status events on the embedded broker', () => {
  let dir: string;
  let db: Database.Database | undefined;
  let broker: EmbeddedBroker | undefined;
  let events: Events;
  let persistence: BrokerPersistence;
  const clients: MqttClient[] = [];

  const start = async () => {
    db = new Database(join(dir, 'bridge.db'));
    db.pragma('journal_mode = WAL');
    persistence = new BrokerPersistence({
      repository: () => new SqliteBrokerStateRepository(db!),
      logger: silentLogger(),
    });
    broker = new EmbeddedBroker({
      host: '127.0.0.1',
      port: 0,
      access: openAccess,
      intake: () => undefined,
      logger: silentLogger(),
      persistence,
    });
    await broker.start();
    events = new Events(silentLogger());
    new Announcer({ events, bus: broker, topics: createTopics(), logger: silentLogger() });
  };
  const stop = async () => {
    await Promise.all(clients.splice(0).map((c) => c.endAsync(true)));
    await broker?.stop();
    broker = undefined;
    db?.close();
    db = undefined;
  };

  /** A client whose messages are logged from CONNACK on (a resumed session's queue included). */
  const connect = async (options: IClientOptions = {}) => {
    const client = mqtt.connect(`mqtt://127.0.0.1:${broker!.port}`, {
      reconnectPeriod: 0,
      protocolVersion: 4,
      ...options,
    });
    clients.push(client);
    const ids = new Set<number>();
    client.on('message', (topic) => ids.add(Number(topic.split('/').pop())));
    await new Promise((resolve, reject) => {
      client.once('connect', resolve);
      client.once('error', reject);
    });
    return { client, ids };
  };

  /** Emits one SMS status event per turn of the event loop, ids from 1, until stopped. */
  const pump = () => {
    let next = 1;
    let running = true;
    const done = (async () => {
      while (running) {
        events.emit('sms.status', sms(next++));
        await new Promise((resolve) => setImmediate(resolve));
      }
    })();
    return {
      get next() {
        return next;
      },
      /** Runs until `count` more events have gone out, then stops; resolves with the last id. */
      async stopAfter(count: number) {
        const last = next + count - 1;
        await waitFor(() => next > last, `event ${last} emitted`);
        running = false;
        await done;
        return next - 1;
      },
    };
  };
  const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

  beforeEach(async () => {
    dir = tempDir();
    await start();
  });
  afterEach(stop);

  it.each([STATUS, '#', 'sms-bridge/#', '+/sms/outbound/+'])(
    'a client subscribing to %s mid-stream gets every event after its SUBACK',
    async (filter) => {
      const { client, ids } = await connect();
      const stream = pump();
      await waitFor(() => stream.next > 20, 'events before the subscription');
      expect(broker!.hasSubscribers(STATUS)).toBe(false);
      await client.subscribeAsync(filter, { qos: 1 });
      const first = stream.next;
      const last = await stream.stopAfter(30);
      await waitFor(() => range(first, last).every((id) => ids.has(id)), `events ${first}-${last}`);
    },
  );

  it('an in-process subscriber added mid-stream hears every later event', async () => {
    const ids = new Set<number>();
    const stream = pump();
    await waitFor(() => stream.next > 20, 'events before the subscription');
    await broker!.subscribe(STATUS, (m: BusMessage) => ids.add(Number(m.topic.split('/').pop())));
    const first = stream.next;
    const last = await stream.stopAfter(30);
    await waitFor(() => range(first, last).every((id) => ids.has(id)), `events ${first}-${last}`);
  });

  it('a stored session keeps getting events while offline, across a broker restart', async () => {
    const session = { clientId: 'watcher', clean: false };
    const first = await connect(session);
    await first.client.subscribeAsync(STATUS, { qos: 1 });
    await first.client.endAsync();
    await waitFor(() => broker!.connectedClients === 0, 'the session offline');
    events.emit('sms.status', sms(1));
    await stop();
    await start(); // the session's subscription is loaded back from the store
    events.emit('sms.status', sms(2));
    const again = await connect(session);
    await waitFor(() => again.ids.has(1) && again.ids.has(2), 'both queued events');
  });

  it('asks again once nobody subscribes any more', async () => {
    const { client } = await connect();
    await client.subscribeAsync(STATUS, { qos: 1 });
    expect(broker!.hasSubscribers(STATUS)).toBe(true);
    await client.unsubscribeAsync(STATUS);
    expect(broker!.hasSubscribers(STATUS)).toBe(false);
    await client.subscribeAsync('sms-bridge/#', { qos: 0 });
    expect(broker!.hasSubscribers(STATUS)).toBe(true);
    await client.endAsync();
    await waitFor(() => !broker!.hasSubscribers(STATUS), 'the clean session gone');
    // a stored session's subscription goes when the client comes back with a clean session
    const stored = await connect({ clientId: 'watcher', clean: false });
    await stored.client.subscribeAsync(STATUS, { qos: 1 });
    await stored.client.endAsync();
    await waitFor(() => broker!.connectedClients === 0, 'the session offline');
    expect(broker!.hasSubscribers(STATUS)).toBe(true);
    await connect({ clientId: 'watcher', clean: true });
    await waitFor(() => !broker!.hasSubscribers(STATUS), 'the stored session cleaned');
  });

  it('asks again once a stored session unsubscribes', async () => {
    const stored = await connect({ clientId: 'keeper', clean: false });
    await stored.client.subscribeAsync(STATUS, { qos: 1 });
    expect(broker!.hasSubscribers(STATUS)).toBe(true);
    await stored.client.unsubscribeAsync(STATUS);
    expect(broker!.hasSubscribers(STATUS)).toBe(false);
  });

  // aedes 1.x takes `$share/...` for a plain filter and delivers nothing to it; the events are published anyway,
  // so a broker that shares them would deliver them
  it('counts a shared subscription as a subscriber', async () => {
    const { client } = await connect();
    await client.subscribeAsync(`$share/ops/${STATUS}`, { qos: 1 });
    expect(broker!.hasSubscribers(STATUS)).toBe(true);
  });

  const alert: AlertEvent = {
    id: 7,
    ref: 'A7',
    rule: 'overheat',
    device: 'pump-7',
    state: 'open',
    priority: 'critical',
    step: 0,
    count: 1,
    openedAt: 0,
    ackedBy: null,
    ackedAt: null,
    resolvedAt: null,
    reason: null,
    at: 0,
  };
  /** The retained messages the broker holds under `filter`. */
  const retained = async (filter: string) => {
    const topics: string[] = [];
    for await (const packet of persistence.createRetainedStream(filter)) topics.push(packet.topic);
    return topics;
  };

  it('still keeps the retained alert topic when nobody subscribes', async () => {
    expect(broker!.hasSubscribers('sms-bridge/alerts/+')).toBe(false);
    events.emit('alert.changed', alert);
    const late = await connect();
    const got = new Promise<{ topic: string; retain: boolean }>((resolve) =>
      late.client.once('message', (topic, _payload, packet) => resolve({ topic, retain: packet.retain })),
    );
    await late.client.subscribeAsync('sms-bridge/alerts/+', { qos: 1 });
    expect(await got).toEqual({ topic: 'sms-bridge/alerts/7', retain: true });
  });

  it('clears the retained alert topic on resolve when nobody subscribes', async () => {
    events.emit('alert.changed', alert);
    await waitFor(async () => (await retained('sms-bridge/alerts/#')).length === 1, 'alert 7 retained');
    events.emit('alert.changed', { ...alert, state: 'resolved', resolvedAt: 1, at: 1 });
    await waitFor(async () => (await retained('sms-bridge/alerts/#')).length === 0, 'alert 7 cleared');
  });
});
