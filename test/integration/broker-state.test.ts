import { rmSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openAccess } from '../../src/broker/bus.js';
import { EmbeddedBroker } from '../../src/broker/embedded.js';
import { BrokerPersistence } from '../../src/broker/persistence.js';
import { silentLogger } from '../../src/logger.js';
import type { BrokerStateRepository } from '../../src/store/broker-state.js';
import { SqliteBrokerStateRepository } from '../../src/store/sqlite/broker-state.js';
import { tempDir, waitFor } from '../helpers/harness.js';

interface Received {
  topic: string;
  payload: string;
  retain: boolean;
}

describe('embedded broker state survives a restart (SQLite)', () => {
  let dir: string;
  let db: Database.Database | undefined;
  let broker: EmbeddedBroker | undefined;
  const clients: MqttClient[] = [];

  /** A broker on the SQLite file in `dir`, as the bridge would run one. */
  const startBroker = async (wrap = (repository: BrokerStateRepository) => repository) => {
    db = new Database(join(dir, 'bridge.db'));
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    broker = new EmbeddedBroker({
      host: '127.0.0.1',
      port: 0,
      access: openAccess,
      intake: async () => undefined,
      logger: silentLogger(),
      persistence: new BrokerPersistence({
        // as the app builds it: the broker exists before the store opens
        repository: () => wrap(new SqliteBrokerStateRepository(db!)),
        logger: silentLogger(),
      }),
    });
    await broker.start();
  };
  const restart = async () => {
    await Promise.all(clients.splice(0).map((c) => c.endAsync(true)));
    await broker?.stop();
    db?.close();
    await startBroker();
  };

  /** Connects with a message log attached before CONNACK, so messages queued for the session are caught. */
  const connect = async (options: IClientOptions = {}) => {
    const client = mqtt.connect(`mqtt://127.0.0.1:${broker!.port}`, {
      reconnectPeriod: 0,
      protocolVersion: 4,
      ...options,
    });
    clients.push(client);
    const received: Received[] = [];
    client.on('message', (topic, payload, packet) =>
      received.push({ topic, payload: payload.toString(), retain: packet.retain }),
    );
    const connack = await new Promise<{ sessionPresent: boolean }>((resolve, reject) => {
      client.once('connect', resolve);
      client.once('error', reject);
    });
    return { client, received, sessionPresent: connack.sessionPresent };
  };
  const device = { clientId: 'pump-7', clean: false };
  const commands = 'devices/pump-7/commands';

  beforeEach(async () => {
    dir = tempDir();
    await startBroker();
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.endAsync(true)));
    await broker?.stop();
    db?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('delivers QoS 1 messages queued for an offline persistent session after the restart, once each', async () => {
    const first = await connect(device);
    await first.client.subscribeAsync(commands, { qos: 1 });
    await broker!.publish(commands, 'acked-before', { qos: 1 });
    await waitFor(() => first.received.length === 1, 'the online device gets the first command');
    await first.client.endAsync();

    for (const n of [1, 2, 3]) await broker!.publish(commands, `stop-${n}`, { qos: 1 });
    await restart();

    const again = await connect(device);
    expect(again.sessionPresent).toBe(true);
    await waitFor(() => again.received.length >= 3, 'the queued commands arrive');
    await new Promise((r) => setTimeout(r, 100));
    // the command acknowledged before the restart is not sent again
    expect(again.received.map((m) => m.payload)).toEqual(['stop-1', 'stop-2', 'stop-3']);
  });

  it('keeps the subscriptions of a persistent session: messages published after the restart are queued', async () => {
    const first = await connect(device);
    await first.client.subscribeAsync(commands, { qos: 1 });
    await first.client.endAsync();
    await restart();

    await broker!.publish(commands, 'after-restart', { qos: 1 });
    const again = await connect(device);
    expect(again.sessionPresent).toBe(true);
    await waitFor(() => again.received.length === 1, 'the command published after the restart arrives');
    expect(again.received[0]).toMatchObject({ topic: commands, payload: 'after-restart' });
  });

  it('keeps retained messages, and forgets one cleared before the restart', async () => {
    await broker!.publish('sms-bridge/alerts/42', '{"state":"open"}', { qos: 1, retain: true });
    await broker!.publish('sms-bridge/alerts/43', '{"state":"open"}', { qos: 1, retain: true });
    await broker!.publish('sms-bridge/alerts/43', '', { qos: 1, retain: true });
    await restart();

    const late = await connect();
    await late.client.subscribeAsync('sms-bridge/alerts/#', { qos: 1 });
    await waitFor(() => late.received.length >= 1, 'the retained alert arrives');
    await new Promise((r) => setTimeout(r, 100));
    expect(late.received).toEqual([
      { topic: 'sms-bridge/alerts/42', payload: '{"state":"open"}', retain: true },
    ]);
  });

  it('delivers a string the bridge publishes byte for byte (UTF-8): live, in-process, queued and retained across a restart', async () => {
    const text = '{"text":"Pumpe ausgefallen: 3 °C ✓ 😀"}';
    const taps: Buffer[] = [];
    await broker!.subscribe('sms-bridge/#', (m) => taps.push(m.payload));
    const away = await connect({ clientId: 'ops-app', clean: false });
    await away.client.subscribeAsync('sms-bridge/sms/#', { qos: 1 });
    await away.client.endAsync();
    const live = await connect();
    await live.client.subscribeAsync('sms-bridge/#', { qos: 1 });

    await broker!.publish('sms-bridge/sms/outbound/1', text, { qos: 1 });
    await broker!.publish('sms-bridge/status', text, { qos: 1, retain: true });
    await waitFor(() => live.received.length === 2, 'the live subscriber gets both');
    expect(live.received.map((m) => m.payload)).toEqual([text, text]);
    expect(taps.map((b) => b.equals(Buffer.from(text)))).toEqual([true, true]);
    await restart();

    const again = await connect({ clientId: 'ops-app', clean: false });
    await waitFor(() => again.received.length === 1, 'the queued event arrives');
    expect(again.received[0]).toMatchObject({ topic: 'sms-bridge/sms/outbound/1', payload: text });
    const late = await connect();
    await late.client.subscribeAsync('sms-bridge/status', { qos: 1 });
    await waitFor(() => late.received.length === 1, 'the retained message arrives');
    expect(late.received[0]).toEqual({ topic: 'sms-bridge/status', payload: text, retain: true });
  });

  it('writes nothing for clean sessions: connects, QoS 1 and QoS 2 publishes, deliveries, disconnects', async () => {
    const writes: string[] = [];
    await broker!.stop();
    db?.close();
    await startBroker(
      (inner) =>
        new Proxy(inner, {
          get(target, key) {
            const value = Reflect.get(target, key) as unknown;
            if (typeof value !== 'function') return value;
            return (...args: unknown[]) => {
              if (key !== 'load') writes.push(String(key));
              return (value as (...a: unknown[]) => unknown).apply(target, args);
            };
          },
        }),
    );
    const sub = await connect({ clientId: 'dashboard', clean: true });
    await sub.client.subscribeAsync('devices/+/telemetry', { qos: 1 });
    const pub = await connect({ clientId: 'pump-7', clean: true });
    for (let n = 0; n < 10; n++)
      await pub.client.publishAsync('devices/pump-7/telemetry', `${n}`, { qos: 1 });
    for (let n = 0; n < 5; n++) await pub.client.publishAsync('devices/pump-7/telemetry', `${n}`, { qos: 2 });
    await waitFor(() => sub.received.length === 15, 'the clean subscriber gets every message');
    await Promise.all(clients.splice(0).map((c) => c.endAsync()));
    await broker!.stop();
    expect(writes).toEqual([]);
  });
});
