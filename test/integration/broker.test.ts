import { createConnection } from 'node:net';
import mqtt, { type MqttClient } from 'mqtt';
import mqttPacket from 'mqtt-packet';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type IntakeHandler, openAccess } from '../../src/broker/bus.js';
import { EmbeddedBroker } from '../../src/broker/embedded.js';
import { isBridgeError } from '../../src/errors.js';
import { silentLogger } from '../../src/logger.js';
import { waitFor } from '../helpers/harness.js';

describe('embedded broker (aedes) as an MQTT 3.1.1 broker', () => {
  let broker: EmbeddedBroker;
  let url: string;
  const clients: MqttClient[] = [];
  const connect = async (options: mqtt.IClientOptions = {}) => {
    const client = await mqtt.connectAsync(url, { reconnectPeriod: 0, protocolVersion: 4, ...options });
    clients.push(client);
    return client;
  };

  beforeEach(async () => {
    broker = new EmbeddedBroker({
      host: '127.0.0.1',
      port: 0,
      access: openAccess,
      intake: async () => undefined,
      logger: silentLogger(),
    });
    await broker.start();
    url = `mqtt://127.0.0.1:${broker.port}`;
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.endAsync(true)));
    await broker.stop();
  });

  const nextMessage = (client: MqttClient) =>
    new Promise<{ topic: string; payload: string; retain: boolean; qos: number }>((resolve) =>
      client.once('message', (topic, payload, packet) =>
        resolve({ topic, payload: payload.toString(), retain: packet.retain, qos: packet.qos }),
      ),
    );

  it('routes + and # wildcards and QoS 2', async () => {
    const sub = await connect();
    await sub.subscribeAsync('devices/+/telemetry', { qos: 2 });
    const pub = await connect();
    const got = nextMessage(sub);
    await pub.publishAsync('devices/pump-7/telemetry', 'hello', { qos: 2 });
    expect(await got).toMatchObject({ topic: 'devices/pump-7/telemetry', payload: 'hello', qos: 2 });
    const sub2 = await connect();
    await sub2.subscribeAsync('devices/#', { qos: 1 });
    const got2 = nextMessage(sub2);
    await pub.publishAsync('devices/pump-9/alerts/overheat', 'x', { qos: 1 });
    expect(await got2).toMatchObject({ topic: 'devices/pump-9/alerts/overheat' });
  });

  it('keeps retained messages for later subscribers', async () => {
    const pub = await connect();
    await pub.publishAsync('devices/pump-7/state', 'running', { qos: 1, retain: true });
    const sub = await connect();
    const got = nextMessage(sub);
    await sub.subscribeAsync('devices/pump-7/state', { qos: 1 });
    expect(await got).toMatchObject({ payload: 'running', retain: true });
  });

  it('publishes the last will of a client that drops', async () => {
    const sub = await connect();
    await sub.subscribeAsync('devices/pump-7/status');
    const dying = await connect({
      will: { topic: 'devices/pump-7/status', payload: Buffer.from('gone'), qos: 0, retain: false },
    });
    const got = nextMessage(sub);
    (dying as unknown as { stream: { destroy(): void } }).stream.destroy();
    expect(await got).toMatchObject({ topic: 'devices/pump-7/status', payload: 'gone' });
  });

  // mqtt.js replaces an empty client id with a random one, so this CONNECT is written by hand.
  const rawConnack = (flags: number) =>
    new Promise<Buffer>((resolve, reject) => {
      const socket = createConnection(broker.port, '127.0.0.1');
      // CONNECT, remaining length 12: "MQTT", level 4, connect flags, keep-alive 60, zero-byte client id
      socket.write(Buffer.from([0x10, 12, 0, 4, 0x4d, 0x51, 0x54, 0x54, 4, flags, 0, 60, 0, 0]));
      socket.once('data', (data) => {
        socket.destroy();
        resolve(data);
      });
      socket.once('error', reject);
    });

  it('refuses a zero-byte client id without clean session with CONNACK 0x02 [MQTT-3.1.3-8]', async () => {
    expect([...(await rawConnack(0x00))]).toEqual([0x20, 2, 0, 2]);
    // with clean session the same empty id is accepted [MQTT-3.1.3-6]
    expect([...(await rawConnack(0x02))]).toEqual([0x20, 2, 0, 0]);
  });

  it('says which setting is wrong when the port is taken', async () => {
    const second = new EmbeddedBroker({
      host: '127.0.0.1',
      port: broker.port,
      access: openAccess,
      intake: async () => undefined,
      logger: silentLogger(),
    });
    const err = await second.start().catch((e: unknown) => e);
    expect(isBridgeError(err, 'ERR_LISTEN')).toBe(true);
    expect((err as Error).message).toMatch(/mqtt\.port/);
    await second.stop();
  });
});

/** A started broker on a free port, open to anyone, with `intake` deciding on every message. */
async function startOpenBroker(intake: IntakeHandler): Promise<EmbeddedBroker> {
  const broker = new EmbeddedBroker({
    host: '127.0.0.1',
    port: 0,
    access: openAccess,
    intake,
    logger: silentLogger(),
  });
  await broker.start();
  return broker;
}

describe('intake that decides synchronously (nothing to commit)', () => {
  let broker: EmbeddedBroker | undefined;
  afterEach(async () => {
    await broker?.stop();
    broker = undefined;
  });

  async function startWith(intake: IntakeHandler): Promise<{ client: MqttClient; taps: string[] }> {
    broker = await startOpenBroker(intake);
    const taps: string[] = [];
    await broker.subscribe('devices/+/telemetry', (m) => taps.push(m.payload.toString()));
    const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${broker.port}`, { reconnectPeriod: 0 });
    client.on('error', () => undefined);
    return { client, taps };
  }

  it('acknowledges a message for which intake returns undefined, and in-process subscribers get it', async () => {
    const { client, taps } = await startWith(() => undefined);
    await client.publishAsync('devices/pump-7/telemetry', 'a', { qos: 1 });
    expect(taps).toEqual(['a']);
    await client.endAsync(true);
  });

  it('withholds the PUBACK when intake throws instead of returning a promise (guarantee 1)', async () => {
    let calls = 0;
    const { client, taps } = await startWith(() => {
      calls++;
      throw new Error('store down');
    });
    const gone = new Promise<void>((resolve) => client.once('close', () => resolve()));
    const acked = client.publishAsync('devices/pump-7/telemetry', 'b', { qos: 1 }).then(
      () => true,
      () => false,
    );
    // aedes closes a client whose publish was not authorised: no PUBACK ever comes
    await gone;
    expect(calls).toBe(1);
    expect(taps).toEqual([]);
    client.end(true);
    expect(await acked).toBe(false);
  });
});

describe('in-process taps (the session remembers the taps of its last topic)', () => {
  let broker: EmbeddedBroker | undefined;
  afterEach(async () => {
    await broker?.stop();
    broker = undefined;
  });

  const start = async (intake: IntakeHandler) => {
    broker = await startOpenBroker(intake);
    return broker;
  };

  it('gives a message acknowledged after its commit to the taps of its own topic, though the client published elsewhere meanwhile', async () => {
    let commit: () => void = () => undefined;
    const b = await start((message) =>
      message.topic.includes('/alerts/') ? new Promise<void>((resolve) => (commit = resolve)) : undefined,
    );
    const alerts: string[] = [];
    const telemetry: string[] = [];
    await b.subscribe('devices/+/alerts/#', (m) => alerts.push(m.payload.toString()));
    await b.subscribe('devices/+/telemetry', (m) => telemetry.push(m.payload.toString()));
    const socket = createConnection(b.port, '127.0.0.1');
    socket.on('error', () => undefined);
    const connack = new Promise((resolve) => socket.once('data', resolve));
    socket.write(
      mqttPacket.generate({
        cmd: 'connect',
        clientId: 'tap-1',
        clean: true,
        keepalive: 0,
        protocolId: 'MQTT',
        protocolVersion: 4,
      }),
    );
    await connack;
    const publish = (topic: string, payload: string) =>
      mqttPacket.generate({ cmd: 'publish', topic, payload, qos: 0, retain: false, dup: false });
    // one write: aedes authorizes both before the first one's commit settles
    socket.write(Buffer.concat([publish('devices/p/alerts/hot', 'A'), publish('devices/p/telemetry', 'B')]));
    await waitFor(() => telemetry.length === 1, 'the telemetry message reaches its tap');
    commit();
    await waitFor(() => alerts.length + telemetry.length === 2, 'the alert reaches a tap after its commit');
    expect({ alerts, telemetry }).toEqual({ alerts: ['A'], telemetry: ['B'] });
    socket.destroy();
  });

  const BRIDGE_TOPICS = [
    'sport',
    'sport/tennis',
    'sms-bridge/sms/outbound/7',
    'sms-bridge/sms/outbound/70',
    'x/status',
    'devices/p/telemetry',
  ];
  /** Each filter's tap, then every topic of BRIDGE_TOPICS published by the bridge itself: what each tap got. */
  const tapsGet = async (filters: string[]) => {
    const b = await start(() => undefined);
    const got: Record<string, string[]> = {};
    for (const f of filters) {
      got[f] = [];
      await b.subscribe(f, (m) => got[f]!.push(m.topic));
    }
    for (const topic of BRIDGE_TOPICS) await b.publish(topic, 'x', { qos: 1 });
    return got;
  };

  it("gives the bridge's own publishes to exactly the taps whose filters match (filters of literal first levels)", async () => {
    expect(
      await tapsGet([
        'sport/#',
        'sms-bridge/sms/outbound/7',
        'devices/+/telemetry',
        'sms-bridge/simulator/mo',
      ]),
    ).toEqual({
      'sport/#': ['sport', 'sport/tennis'],
      'sms-bridge/sms/outbound/7': ['sms-bridge/sms/outbound/7'],
      'devices/+/telemetry': ['devices/p/telemetry'],
      'sms-bridge/simulator/mo': [],
    });
  });

  it("gives the bridge's own publishes to taps whose filters start with a wildcard", async () => {
    expect(await tapsGet(['+/status'])).toEqual({ '+/status': ['x/status'] });
    await broker?.stop();
    expect(await tapsGet(['#'])).toEqual({ '#': BRIDGE_TOPICS });
  });

  it('gives the next message to a tap added after the session remembered its topic', async () => {
    const b = await start(() => undefined);
    const first: string[] = [];
    const later: string[] = [];
    await b.subscribe('devices/#', (m) => first.push(m.payload.toString()));
    const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${b.port}`, { reconnectPeriod: 0 });
    await client.publishAsync('devices/p/telemetry', '1', { qos: 1 });
    await b.subscribe('devices/+/telemetry', (m) => later.push(m.payload.toString()));
    await client.publishAsync('devices/p/telemetry', '2', { qos: 1 });
    expect({ first, later }).toEqual({ first: ['1', '2'], later: ['2'] });
    await client.endAsync(true);
  });
});
