import { createConnection, type Socket } from 'node:net';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import type { Access, BusMessage } from '../../src/broker/bus.js';
import { EmbeddedBroker } from '../../src/broker/embedded.js';
import { type BrokerLimits, bridgeTopicFilters, DEFAULT_BROKER_LIMITS } from '../../src/broker/limits.js';
import { type AppAccount, createAccess } from '../../src/devices/access.js';
import { hashPassword } from '../../src/devices/password.js';
import { DeviceRegistry } from '../../src/devices/registry.js';
import { silentLogger } from '../../src/logger.js';
import { waitFor } from '../helpers/harness.js';

// Cheap hashes keep the tests quick; the login flood test uses the default cost, as in production.
const FAST = { N: 1024, r: 8, p: 1 };

async function registry(ids: string[], params = FAST): Promise<DeviceRegistry> {
  return new DeviceRegistry(
    await Promise.all(
      ids.map(async (id) => ({
        device: { id, name: id, type: 'pump', commands: new Map(), operators: [] },
        passwordHash: await hashPassword(`${id}-secret`, params),
      })),
    ),
  );
}

interface Started {
  broker: EmbeddedBroker;
  url: string;
  intake: BusMessage[];
  connect(options?: IClientOptions): Promise<MqttClient>;
}

let cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  cleanups = [];
});

async function start(
  options: {
    devices?: DeviceRegistry;
    accounts?: AppAccount[];
    allowAnonymous?: boolean;
    limits?: Partial<BrokerLimits>;
    access?: Access;
  } = {},
): Promise<Started> {
  const access =
    options.access ??
    createAccess({
      registry: options.devices ?? DeviceRegistry.empty(),
      allowAnonymous: options.allowAnonymous ?? false,
      accounts: options.accounts ?? [],
      logger: silentLogger(),
    });
  const intake: BusMessage[] = [];
  const broker = new EmbeddedBroker({
    host: '127.0.0.1',
    port: 0,
    access,
    intake: async (message) => {
      intake.push(message);
    },
    limits: { ...DEFAULT_BROKER_LIMITS, ...options.limits },
    bridgeTopics: bridgeTopicFilters('sms-bridge'),
    logger: silentLogger(),
  });
  await broker.start();
  const clients: MqttClient[] = [];
  cleanups.push(async () => {
    await Promise.all(clients.map((c) => c.endAsync(true)));
    await broker.stop();
  });
  const url = `mqtt://127.0.0.1:${broker.port}`;
  return {
    broker,
    url,
    intake,
    async connect(clientOptions = {}) {
      const client = await mqtt.connectAsync(url, {
        reconnectPeriod: 0,
        protocolVersion: 4,
        ...clientOptions,
      });
      clients.push(client);
      return client;
    },
  };
}

/** The CONNACK return code of a refused connect (mqtt.js rejects with it as `code`). */
async function refusal(promise: Promise<unknown>): Promise<unknown> {
  const err = await promise.then(
    () => undefined,
    (e: { code?: unknown }) => e,
  );
  return (err as { code?: unknown } | undefined)?.code;
}

const closed = (client: MqttClient) =>
  new Promise<void>((resolve) => (client.connected ? client.once('close', () => resolve()) : resolve()));

async function scadaAccount(subscribe: string[], publish: string[] = ['#']): Promise<AppAccount> {
  return { username: 'scada', password_hash: await hashPassword('scada-secret', FAST), publish, subscribe };
}

describe('attack 1: a client id belongs to its account', () => {
  it("refuses pump-7 with pump-9's client id (0x05); pump-9's queued commands stay pump-9's", async () => {
    const s = await start({ devices: await registry(['pump-7', 'pump-9']) });
    const pump9 = { clientId: 'pump-9', username: 'pump-9', password: 'pump-9-secret', clean: false };
    const first = await s.connect(pump9);
    await first.subscribeAsync('devices/pump-9/commands', { qos: 1 });
    await first.endAsync();
    await s.broker.publish('devices/pump-9/commands', '{"command":"stop"}', { qos: 1 });

    const thief = { clientId: 'pump-9', username: 'pump-7', password: 'pump-7-secret', clean: false };
    expect(await refusal(s.connect(thief))).toBe(5);

    const again = mqtt.connect(s.url, { ...pump9, reconnectPeriod: 0, protocolVersion: 4 });
    const got = await new Promise<string>((resolve) =>
      again.once('message', (_t, p) => resolve(p.toString())),
    );
    expect(got).toBe('{"command":"stop"}');
    // while pump-9 is connected, its id cannot be used to disconnect it either
    expect(await refusal(s.connect(thief))).toBe(5);
    expect(again.connected).toBe(true);
    await again.endAsync();
  });

  it('refuses an app account using a device id, and a device using an id an account claimed first', async () => {
    const s = await start({
      devices: await registry(['pump-7']),
      accounts: [await scadaAccount(['#'])],
    });
    const scada = { username: 'scada', password: 'scada-secret' };
    expect(await refusal(s.connect({ ...scada, clientId: 'pump-7' }))).toBe(5);
    const app = await s.connect({ ...scada, clientId: 'scada-main', clean: false });
    await app.endAsync();
    const pump = { username: 'pump-7', password: 'pump-7-secret' };
    expect(await refusal(s.connect({ ...pump, clientId: 'scada-main', clean: false }))).toBe(5);
    // its own id it may use, and a fresh one
    await s.connect({ ...pump, clientId: 'pump-7' });
    await s.connect({ ...pump, clientId: 'pump-7-diag' });
  });

  it('frees a clean session’s client id when its connection closes, for another account to use', async () => {
    const s = await start({
      devices: await registry(['pump-7']),
      accounts: [await scadaAccount(['#'])],
    });
    const scada = { username: 'scada', password: 'scada-secret', clientId: 'console-1' };
    const pump = { username: 'pump-7', password: 'pump-7-secret', clientId: 'console-1' };
    const first = await s.connect(scada);
    expect(await refusal(s.connect(pump))).toBe(5);
    first.stream.destroy(); // the connection drops, no DISCONNECT
    await closed(first);
    await waitFor(async () => (await refusal(s.connect(pump))) === undefined, 'console-1 free again');
  });

  it('passes every forwarded message through the ACL: a denied topic is not delivered under #', async () => {
    const s = await start({ accounts: [await scadaAccount(['#', '!secret/#'])] });
    const app = await s.connect({ username: 'scada', password: 'scada-secret' });
    const seen: string[] = [];
    app.on('message', (topic) => seen.push(topic));
    await app.subscribeAsync('#', { qos: 1 });
    await s.broker.publish('secret/key', 'k', { qos: 1 });
    await s.broker.publish('plant/ok', 'fine', { qos: 1 });
    await waitFor(() => seen.includes('plant/ok'), 'plant/ok delivered');
    expect(seen).toEqual(['plant/ok']);
    // a subscription wholly inside the denied filter gets SUBACK 0x80, which mqtt.js reports as an error
    const sub = await app.subscribeAsync('secret/key', { qos: 1 }).then(
      () => 'granted',
      (err: Error) => err.message,
    );
    expect(sub).toMatch(/Subscribe error/);
  });
});

/** Writes `header` then zeros in 64 KiB chunks up to `total` bytes, while the socket stays open. */
async function stream(socket: Socket, header: Buffer, total: number): Promise<number> {
  const chunk = Buffer.alloc(64 * 1024);
  let sent = 0;
  socket.write(header);
  while (sent < total && !socket.destroyed) {
    if (!socket.write(chunk)) await new Promise((r) => socket.once('drain', r).once('close', r));
    sent += chunk.length;
  }
  return sent;
}

describe('the publish ACL is checked for every topic, not only the first', () => {
  it('refuses a device its neighbour’s topic after many allowed publishes to its own', async () => {
    const s = await start({ devices: await registry(['pump-7', 'pump-9']) });
    const pump = await s.connect({ username: 'pump-7', password: 'pump-7-secret' });
    pump.on('error', () => undefined);
    for (let i = 0; i < 3; i++) await pump.publishAsync('devices/pump-7/telemetry', `${i}`, { qos: 1 });
    const gone = closed(pump);
    pump.publish('devices/pump-9/telemetry', 'forged', { qos: 1 });
    await gone;
    expect(s.intake.map((m) => m.topic)).toEqual(Array(3).fill('devices/pump-7/telemetry'));
  });

  it('still checks a retained publish to a topic its plain publishes passed: commands/result is never retained', async () => {
    const s = await start({ devices: await registry(['pump-7']) });
    const pump = await s.connect({ username: 'pump-7', password: 'pump-7-secret' });
    pump.on('error', () => undefined);
    for (let i = 0; i < 3; i++) await pump.publishAsync('devices/pump-7/commands/result', `${i}`, { qos: 1 });
    const gone = closed(pump);
    pump.publish('devices/pump-7/commands/result', 'kept', { qos: 1, retain: true });
    await gone;
    expect(s.intake.map((m) => m.retain)).toEqual([false, false, false]);
  });
});

describe('attacks 2 and 4: the maximum packet size holds before and after login', () => {
  it('closes a connection whose CONNECT claims 64 MiB, without buffering what follows', async () => {
    const s = await start({ allowAnonymous: true });
    const socket = createConnection(s.broker.port, '127.0.0.1');
    socket.on('error', () => undefined);
    const gone = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    await new Promise((r) => socket.once('connect', r));
    const before = process.memoryUsage().arrayBuffers;
    // CONNECT, Remaining Length 64 MiB - 1 as a variable byte integer [MQTT-2.2.3]
    await stream(socket, Buffer.from([0x10, 0xff, 0xff, 0xff, 0x1f]), 8 * 1024 * 1024);
    await waitFor(() => socket.destroyed, 'the broker closes the connection', 5000);
    await gone;
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(4 * 1024 * 1024);
    expect(s.broker.connectedClients).toBe(0);
  });

  it('closes a logged-in client publishing over the limit; intake never sees it', async () => {
    const s = await start({ allowAnonymous: true, limits: { maxPacketSize: 64 * 1024 } });
    const client = await s.connect();
    client.on('error', () => undefined);
    const gone = closed(client);
    client.publish('devices/pump-7/telemetry', Buffer.alloc(100 * 1024), { qos: 1 });
    await gone;
    // a packet at the limit still passes
    const other = await s.connect();
    await other.publishAsync('devices/pump-7/telemetry', Buffer.alloc(60 * 1024), { qos: 1 });
    expect(s.intake.map((m) => m.payload.length)).toEqual([60 * 1024]);
  });
});

describe('attack 5: a login flood neither queues unbounded scrypt work nor locks a device out', () => {
  it('300 bad logins run a bounded number of password checks; the device then connects', async () => {
    const s = await start({ devices: await registry(['pump-7'], { N: 16_384, r: 8, p: 1 }) });
    const bad = (i: number) =>
      mqtt
        .connectAsync(s.url, {
          reconnectPeriod: 0,
          connectTimeout: 20_000,
          username: i % 2 === 0 ? `nobody-${i}` : 'pump-7',
          password: 'wrong',
        })
        .then(
          (c) => c.endAsync(true),
          () => undefined,
        );
    for (let i = 0; i < 300; i += 20) {
      await Promise.all(Array.from({ length: 20 }, (_, j) => bad(i + j)));
    }
    expect(s.broker.loginChecks).toBeLessThan(100);
    const device = await waitFor(
      () =>
        mqtt
          .connectAsync(s.url, { reconnectPeriod: 0, username: 'pump-7', password: 'pump-7-secret' })
          .catch(() => new Promise<undefined>((r) => setTimeout(() => r(undefined), 250))),
      'pump-7 connects after the flood',
      60_000,
    );
    expect(device.connected).toBe(true);
    await device.endAsync();
  }, 90_000);
});

describe('attack 10: retained messages are bounded and bridge topics are the bridge’s', () => {
  it('refuses a device its retained message past max_per_client', async () => {
    const s = await start({
      devices: await registry(['pump-7']),
      limits: { retained: { maxPerClient: 5, maxTotal: 100, maxBytes: 1024 * 1024 } },
    });
    const pump = await s.connect({ username: 'pump-7', password: 'pump-7-secret' });
    pump.on('error', () => undefined);
    for (let i = 0; i < 5; i++) {
      await pump.publishAsync(`devices/pump-7/state/${i}`, Buffer.alloc(1000), { qos: 1, retain: true });
    }
    // replacing one of its own is fine
    await pump.publishAsync('devices/pump-7/state/0', 'x', { qos: 1, retain: true });
    const gone = closed(pump);
    pump.publish('devices/pump-7/state/5', Buffer.alloc(1000), { qos: 1, retain: true });
    await gone;
    expect(s.intake.filter((m) => m.retain)).toHaveLength(6);
  });

  it('counts the bridge’s retained messages in bytes of UTF-8 against max_bytes', async () => {
    const s = await start({
      allowAnonymous: true,
      limits: { retained: { maxPerClient: 5, maxTotal: 100, maxBytes: 16 } },
    });
    // 8 characters, 16 bytes: the whole budget
    await s.broker.publish('sms-bridge/alerts/1', 'éééééééé', { qos: 1, retain: true });
    const app = await s.connect();
    app.on('error', () => undefined);
    const gone = closed(app);
    app.publish('plant/state', 'x', { qos: 1, retain: true });
    await gone;
    expect(s.intake).toEqual([]);
  });

  it('refuses retained commands and any publish to the bridge’s topics; sms-bridge/state survives', async () => {
    const s = await start({ accounts: [await scadaAccount(['#'])] });
    await s.broker.publish('sms-bridge/state', 'online', { qos: 1, retain: true });
    const scada = { username: 'scada', password: 'scada-secret' };
    for (const [topic, payload] of [
      ['devices/pump-7/commands', '{"command":"stop"}'],
      ['sms-bridge/state', ''],
    ] as const) {
      const app = await s.connect(scada);
      app.on('error', () => undefined);
      const gone = closed(app);
      app.publish(topic, payload, { qos: 1, retain: true });
      await gone;
    }
    const pump = await start({ devices: await registry(['pump-7']) });
    const device = await pump.connect({ username: 'pump-7', password: 'pump-7-secret' });
    device.on('error', () => undefined);
    const gone = closed(device);
    device.publish('devices/pump-7/commands', '{"command":"start"}', { qos: 1, retain: true });
    await gone;
    expect(pump.intake).toEqual([]);
    expect(s.intake).toEqual([]);

    const reader = await s.connect(scada);
    const state = new Promise<string>((resolve) => reader.once('message', (_t, p) => resolve(p.toString())));
    await reader.subscribeAsync('sms-bridge/state', { qos: 1 });
    expect(await state).toBe('online');
  });
});

describe('attack 11: U+0000 in a topic closes the connection [MQTT-1.5.3-2]', () => {
  it('closes a client that publishes or subscribes with a NUL in the topic', async () => {
    const s = await start({ allowAnonymous: true });
    const pub = await s.connect();
    pub.on('error', () => undefined);
    const pubGone = closed(pub);
    pub.publish('devices/pump-7/tele\u0000metry', 'x', { qos: 1 });
    await pubGone;
    const sub = await s.connect();
    sub.on('error', () => undefined);
    const subGone = closed(sub);
    sub.subscribe('devices/\u0000/#');
    await subGone;
    expect(s.intake).toEqual([]);
  });
});
