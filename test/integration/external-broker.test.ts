import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect as netConnect, type Socket } from 'node:net';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import mqtt, { type IClientOptions, type IPublishPacket, type MqttClient } from 'mqtt';
import mqttPacket, { type Packet } from 'mqtt-packet';
import { afterEach, describe, expect, it } from 'vitest';
import { App } from '../../src/app.js';
import { openAccess } from '../../src/broker/bus.js';
import { EmbeddedBroker } from '../../src/broker/embedded.js';
import { loadBridgeConfig } from '../../src/config/load-bridge.js';
import { hashPassword } from '../../src/devices/password.js';
import { createLogger, silentLogger } from '../../src/logger.js';
import { SmscSimulator } from '../../src/simulator/smsc.js';
import { createStore } from '../../src/store/index.js';
import { FaultyStore } from '../helpers/faulty-store.js';
import { tempDir, waitFor, writeBridgeConfig } from '../helpers/harness.js';
import { hasMosquitto, type Mosquitto, startMosquitto } from '../helpers/mosquitto.js';

const CLI = join(import.meta.dirname, '../../dist/cli.js');
const API = 'sms-bridge/request/sms/send';

const RULES = `
contacts:
  alice: { phone: "+447700900001" }
rules:
  - id: overheat
    topic: devices/+/alerts/overheat
    when: temp > 90
    to: [alice]
    text: "{{device.id}} overheating: {{payload.temp}}C"
    priority: critical
  - id: seq
    topic: devices/+/alerts/seq
    to: [alice]
    text: "alert {{payload.n}}"
    cooldown: 0s
  # overlaps the two above: a broker sends one copy per matching subscription, so the bridge must merge them
  - id: pump-7-flood
    topic: devices/pump-7/#
    when: n < 0
    to: [alice]
    text: "flood"
`;

const devicesYaml = async () => `
type: pump
commands:
  stop: { payload: { action: stop } }
devices:
  - { id: pump-7, name: North field pump 7, password_hash: "${await hashPassword('unused')}", operators: [alice] }
`;

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

async function mosquitto(options: Parameters<typeof startMosquitto>[0] = {}): Promise<Mosquitto> {
  const broker = await startMosquitto(options);
  cleanup.push(() => broker.stop());
  return broker;
}

async function simulator(): Promise<{ sim: SmscSimulator; port: number }> {
  const sim = new SmscSimulator({ receipts: false, logger: silentLogger() });
  const { port } = await sim.start({ host: '127.0.0.1', port: 0 });
  cleanup.push(() => sim.stop());
  return { sim, port };
}

/** A bridge config file in external mode (the harness's, with its `mqtt:` line replaced). */
function externalConfig(
  url: string,
  smscPort: number,
  mqttExtra = '',
  devices?: string,
): { dir: string; file: string } {
  const dir = tempDir();
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  const file = writeBridgeConfig(dir, smscPort, RULES, '', '', devices);
  const text = readFileSync(file, 'utf8').replace(
    /^mqtt: .*$/m,
    `mqtt: { mode: external, url: "${url}", client_id: bridge-${dir.slice(-6)}${mqttExtra} }`,
  );
  writeFileSync(file, text);
  return { dir, file };
}

async function startApp(
  url: string,
  smscPort: number,
  options: { mqttExtra?: string; devices?: string; faulty?: (store: FaultyStore) => void } = {},
): Promise<{ app: App; store: FaultyStore | undefined; dir: string }> {
  const { dir, file } = externalConfig(url, smscPort, options.mqttExtra, options.devices);
  const config = loadBridgeConfig(file);
  const store = options.faulty ? new FaultyStore(createStore(config.store)) : undefined;
  if (store) options.faulty?.(store);
  const app = new App({
    config,
    logger: process.env.EXT_LOG ? createLogger({ level: 'debug' }) : silentLogger(),
    store,
    watch: false,
  });
  await app.start();
  cleanup.push(() => app.stop());
  await waitFor(() => app.links[0]!.bound, 'bound to the SMSC');
  return { app, store, dir };
}

/** SMS rows committed in a bridge's SQLite file. */
function committedSms(dir: string): number {
  const db = new Database(join(dir, 'bridge.db'), { readonly: true });
  try {
    return (db.prepare('SELECT count(*) AS n FROM sms').get() as { n: number }).n;
  } finally {
    db.close();
  }
}

/**
 * A bridge behind a proxy (`mqttProxy`) that records its PUBACKs, each with the SMS committed when it left, and
 * the message ids of the PUBLISHes it was sent on the topics `counted` picks, in order.
 */
async function pubackOrder(brokerPort: number, smscPort: number, counted: (topic: string) => boolean) {
  const published: number[] = [];
  const acked: Array<{ id: number; committed: number }> = [];
  let dir = '';
  const url = await mqttProxy(
    brokerPort,
    (packet) => {
      if (packet.cmd === 'puback') acked.push({ id: packet.messageId ?? -1, committed: committedSms(dir) });
    },
    (packet) => {
      if (packet.cmd === 'publish' && counted(packet.topic)) published.push(packet.messageId ?? -1);
    },
  );
  const started = await startApp(url, smscPort, { faulty: () => undefined });
  dir = started.dir;
  return { published, acked, started };
}

/**
 * A TCP proxy in front of the broker that parses what the bridge sends (MQTT 5), so that a test sees the
 * bridge's PUBACKs when they leave it.
 */
async function mqttProxy(
  brokerPort: number,
  onPacket: (packet: Packet) => void,
  onBrokerPacket?: (packet: Packet) => void,
): Promise<string> {
  const sockets = new Set<Socket>();
  const server = createServer((down) => {
    const up = netConnect(brokerPort, '127.0.0.1');
    sockets.add(down).add(up);
    const parser = mqttPacket.parser({ protocolVersion: 5 });
    parser.on('packet', onPacket);
    down.on('data', (chunk: Buffer) => {
      parser.parse(chunk);
      up.write(chunk);
    });
    const fromBroker = mqttPacket.parser({ protocolVersion: 5 });
    if (onBrokerPacket) fromBroker.on('packet', onBrokerPacket);
    up.on('data', (chunk: Buffer) => {
      fromBroker.parse(chunk);
      down.write(chunk);
    });
    const end = () => {
      down.destroy();
      up.destroy();
    };
    down.on('error', end).on('close', end);
    up.on('error', end).on('close', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanup.push(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const address = server.address();
  return `mqtt://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
}

/** Starts the built bridge as a child process; resolves once it says it started. */
function startBridge(config: string): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, 'start', '--config', config], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      if (!out.includes('"bridge started"')) return;
      child.stdout?.off('data', onData);
      resolve(child);
    };
    child.stdout?.on('data', onData);
    if (process.env.EXT_LOG) child.stdout?.on('data', (d: Buffer) => process.stderr.write(d));
    child.stderr?.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.once('exit', (code) => reject(new Error(`bridge exited with ${code}: ${out}`)));
  });
}

async function client(url: string, options: IClientOptions = {}): Promise<MqttClient> {
  const c = await mqtt.connectAsync(url, { reconnectPeriod: 0, protocolVersion: 5, ...options });
  c.on('error', () => undefined);
  cleanup.push(() => c.endAsync(true));
  return c;
}

describe.skipIf(!hasMosquitto)('external broker (Mosquitto)', () => {
  it('turns a device alert into an SMS and says online on the state topic', async () => {
    const broker = await mosquitto();
    const { sim, port } = await simulator();
    await startApp(broker.url, port);
    const device = await client(broker.url, { clientId: 'pump-7' });
    await device.publishAsync('devices/pump-7/alerts/overheat', JSON.stringify({ temp: 95 }), { qos: 1 });
    await waitFor(() => sim.received.some((s) => s.text === 'pump-7 overheating: 95C'), 'SMS at the SMSC');
    const watcher = await client(broker.url);
    const state = new Promise<string>((resolve) =>
      watcher.on('message', (topic, payload) => topic === 'sms-bridge/state' && resolve(payload.toString())),
    );
    await watcher.subscribeAsync('sms-bridge/state', { qos: 1 });
    expect(await state).toBe('online');
  });

  it("publishes every SMS's status events: the other broker's subscribers (shared ones too) are not known here", async () => {
    const broker = await mosquitto();
    const { sim, port } = await simulator();
    await startApp(broker.url, port);
    const watcher = await client(broker.url);
    const states: string[] = [];
    watcher.on('message', (_topic, payload) => states.push(JSON.parse(payload.toString()).state));
    await watcher.subscribeAsync('$share/ops/sms-bridge/sms/outbound/+', { qos: 1 });
    const device = await client(broker.url, { clientId: 'pump-7' });
    await device.publishAsync('devices/pump-7/alerts/overheat', JSON.stringify({ temp: 95 }), { qos: 1 });
    await waitFor(() => sim.received.length > 0, 'SMS at the SMSC');
    await waitFor(
      () => states.includes('queued') && states.includes('submitted'),
      'queued and submitted events',
    );
  });
});

describe.skipIf(!hasMosquitto)('external broker: guarantee 1 (PUBACK after commit)', () => {
  it('sends the PUBACK for a device message only once its SMS is committed (slow store)', async () => {
    const broker = await mosquitto();
    const { sim, port } = await simulator();
    // at the moment the bridge's PUBACK leaves it, the SMS must already be in the file
    const atPuback: number[] = [];
    let dir = '';
    const url = await mqttProxy(broker.port, (packet) => {
      if (packet.cmd === 'puback') atPuback.push(committedSms(dir));
    });
    ({ dir } = await startApp(url, port, {
      faulty: (store) => store.add({ op: 'outbox.enqueue', nth: 'all', kind: 'delay', ms: 700 }),
    }));
    const device = await client(broker.url, { clientId: 'pump-7' });
    await device.publishAsync('devices/pump-7/alerts/seq', JSON.stringify({ n: 1 }), { qos: 1 });
    await waitFor(() => atPuback.length > 0, 'PUBACK from the bridge');
    expect(atPuback[0]).toBe(1);
    await waitFor(() => sim.received.some((s) => s.text === 'alert 1'), 'SMS at the SMSC');
  });

  it('commits messages of different devices together and sends their PUBACKs in the order they came', async () => {
    const broker = await mosquitto();
    const { port } = await simulator();
    const { published, acked, started } = await pubackOrder(broker.port, port, (topic) =>
      topic.startsWith('devices/'),
    );
    const store = started.store!;
    const a = await client(broker.url, { clientId: 'pump-1' });
    const b = await client(broker.url, { clientId: 'pump-2' });
    // the first message's transaction starts late; the second, from another device, commits meanwhile
    store.add({ op: 'transaction', nth: (store.calls.get('transaction') ?? 0) + 1, kind: 'delay', ms: 700 });
    await a.publishAsync('devices/pump-1/alerts/seq', JSON.stringify({ n: 1 }), { qos: 1 });
    await b.publishAsync('devices/pump-2/alerts/seq', JSON.stringify({ n: 2 }), { qos: 1 });
    await waitFor(() => acked.length === 2, 'two PUBACKs from the bridge');
    // [MQTT-4.6.0-2] in the order of the PUBLISHes, and the second was committed before the first was acknowledged
    expect(acked.map((x) => x.id)).toEqual(published);
    expect(acked[0]!.committed).toBe(2);
  });

  it('commits send-API requests (no device) concurrently, not one after another, PUBACKs still in order', async () => {
    const broker = await mosquitto();
    const { port } = await simulator();
    const { published, acked, started } = await pubackOrder(broker.port, port, (topic) => topic === API);
    const store = started.store!;
    const app = await client(broker.url, { clientId: 'app-1' });
    // the first request's transaction starts late; the second commits meanwhile
    store.add({ op: 'transaction', nth: (store.calls.get('transaction') ?? 0) + 1, kind: 'delay', ms: 700 });
    await app.publishAsync(API, JSON.stringify({ to: '+447700900001', text: 'one' }), { qos: 1 });
    await app.publishAsync(API, JSON.stringify({ to: '+447700900001', text: 'two' }), { qos: 1 });
    await waitFor(() => acked.length === 2, 'two PUBACKs from the bridge');
    expect(acked.map((x) => x.id)).toEqual(published);
    expect(acked[0]!.committed).toBe(2);
  });

  it('leaves a message whose intake failed unacknowledged, keeps going, and gets it again after a reconnect', async () => {
    const broker = await mosquitto();
    const { sim, port } = await simulator();
    const pubacks: number[] = [];
    const url = await mqttProxy(broker.port, (packet) => {
      if (packet.cmd === 'puback') pubacks.push(packet.messageId ?? -1);
    });
    const { app, store } = await startApp(url, port, {
      faulty: (s) => s.add({ op: 'outbox.enqueue', nth: 1, kind: 'fail' }),
    });
    const device = await client(broker.url, { clientId: 'pump-7' });
    await device.publishAsync('devices/pump-7/alerts/seq', JSON.stringify({ n: 1 }), { qos: 1 });
    await waitFor(() => store?.fired.length === 1, 'the injected failure');
    // the next message is taken while the first waits for its redelivery: no stall
    await device.publishAsync('devices/pump-7/alerts/seq', JSON.stringify({ n: 2 }), { qos: 1 });
    await waitFor(() => sim.received.some((s) => s.text === 'alert 2'), 'the second SMS');
    expect(sim.received.some((s) => s.text === 'alert 1')).toBe(false);
    expect(app.external?.refused).toBe(1);
    // after the redelivery delay (5 s) the bridge reconnects and the broker sends the first one again
    await waitFor(() => sim.received.some((s) => s.text === 'alert 1'), 'the first SMS, redelivered', 15_000);
    expect(pubacks.length).toBeGreaterThanOrEqual(2);
  }, 30_000);

  it('gets a message again from the broker when the bridge dies before committing it (kill -9)', async () => {
    expect(existsSync(CLI), 'dist/cli.js is built by `npm test` (pretest); run `npm run build` first').toBe(
      true,
    );
    const broker = await mosquitto();
    const { sim, port } = await simulator();
    const { dir, file } = externalConfig(broker.url, port);
    const first = await startBridge(file);
    cleanup.push(() => {
      first.kill('SIGKILL');
    });
    // hold the write lock of the bridge's SQLite file: its commit waits (busy_timeout 5 s) and we kill it there
    const lock = new Database(join(dir, 'bridge.db'));
    cleanup.push(() => {
      if (lock.open) lock.close();
    });
    lock.exec('BEGIN EXCLUSIVE');
    const device = await client(broker.url, { clientId: 'pump-7' });
    await device.publishAsync('devices/pump-7/alerts/seq', JSON.stringify({ n: 1 }), { qos: 1 });
    await new Promise((r) => setTimeout(r, 1000));
    const exited = new Promise((resolve) => first.once('exit', resolve));
    first.kill('SIGKILL');
    await exited;
    lock.exec('ROLLBACK');
    lock.close();
    expect(sim.received).toEqual([]);
    const second = await startBridge(file);
    cleanup.push(async () => {
      const gone = new Promise((resolve) => second.once('exit', resolve));
      second.kill('SIGTERM');
      await gone;
    });
    await waitFor(() => sim.received.some((s) => s.text === 'alert 1'), 'SMS after the restart', 10_000);
  }, 30_000);
});

describe.skipIf(!hasMosquitto)('external broker: several bridges, MQTT 5', () => {
  it('splits messages between two bridges of one share group, each message handled once', async () => {
    const broker = await mosquitto();
    const { sim, port } = await simulator();
    const a = await startApp(broker.url, port);
    const b = await startApp(broker.url, port);
    const device = await client(broker.url, { clientId: 'pump-7' });
    const total = 40;
    for (let n = 0; n < total; n++)
      await device.publishAsync('devices/pump-7/alerts/seq', JSON.stringify({ n }), { qos: 1 });
    await waitFor(() => sim.received.length >= total, `${total} SMS`);
    await new Promise((r) => setTimeout(r, 300));
    const texts = sim.received.map((s) => s.text).sort();
    expect(texts).toEqual([...new Set(texts)]);
    expect(texts).toHaveLength(total);
    const handledA = a.app.intake.messagesIn;
    const handledB = b.app.intake.messagesIn;
    expect(handledA + handledB).toBe(total);
    expect(handledA).toBeGreaterThan(0);
    expect(handledB).toBeGreaterThan(0);
  });

  it('drops at start the subscriptions a previous run left in its session (rule topics changed)', async () => {
    const broker = await mosquitto();
    const { sim, port } = await simulator();
    const { dir, file } = externalConfig(broker.url, port);
    const first = new App({
      config: loadBridgeConfig(file),
      logger: process.env.EXT_LOG ? createLogger({ level: 'info' }) : silentLogger(),
      watch: false,
    });
    await first.start();
    await first.stop();
    // the session keeps $share/.../devices/+/alerts/seq; the new rules want devices/+/alerts/#
    writeFileSync(
      join(dir, 'rules.yaml'),
      `
contacts:
  alice: { phone: "+447700900001" }
rules:
  - { id: any, topic: "devices/+/alerts/#", to: [alice], text: "any {{payload.n}}", cooldown: 0s }
`,
    );
    const second = new App({
      config: loadBridgeConfig(file),
      logger: process.env.EXT_LOG ? createLogger({ level: 'info' }) : silentLogger(),
      watch: false,
    });
    await second.start();
    cleanup.push(() => second.stop());
    const device = await client(broker.url, { clientId: 'pump-7' });
    await device.publishAsync('devices/pump-7/alerts/seq', JSON.stringify({ n: 1 }), { qos: 1 });
    await waitFor(() => sim.received.length > 0, 'SMS');
    await new Promise((r) => setTimeout(r, 500));
    expect(sim.received.map((s) => s.text)).toEqual(['any 1']);
  });

  it('answers an API request on its response_topic with its correlation_data', async () => {
    const broker = await mosquitto();
    const { sim, port } = await simulator();
    await startApp(broker.url, port);
    const app = await client(broker.url, { clientId: 'dispatch-app' });
    await app.subscribeAsync('apps/dispatch/replies', { qos: 1 });
    const reply = new Promise<IPublishPacket>((resolve) =>
      app.on('message', (_topic, _payload, packet) => resolve(packet)),
    );
    await app.publishAsync(
      'sms-bridge/request/sms/send',
      JSON.stringify({ to: '+447700900009', text: 'hello over MQTT 5' }),
      {
        qos: 1,
        properties: { responseTopic: 'apps/dispatch/replies', correlationData: Buffer.from('req-42') },
      },
    );
    const packet = await reply;
    expect(packet.topic).toBe('apps/dispatch/replies');
    expect(packet.properties?.correlationData?.toString()).toBe('req-42');
    expect(JSON.parse(packet.payload.toString())).toMatchObject({ status: 'ok' });
    await waitFor(() => sim.received.some((s) => s.text === 'hello over MQTT 5'), 'SMS at the SMSC');
  });

  it('publishes an SMS command to the device topic with QoS 1 and a message expiry', async () => {
    const broker = await mosquitto();
    const { sim, port } = await simulator();
    await startApp(broker.url, port, { devices: await devicesYaml() });
    const device = await client(broker.url, { clientId: 'pump-7' });
    await device.subscribeAsync('devices/pump-7/commands', { qos: 1 });
    const command = new Promise<IPublishPacket>((resolve) =>
      device.on('message', (_topic, _payload, packet) => resolve(packet)),
    );
    expect(await sim.injectMo({ from: '+447700900001', to: 'BRIDGE', text: 'pump-7 stop' })).toBe(0);
    const packet = await command;
    expect(packet.qos).toBe(1);
    expect(JSON.parse(packet.payload.toString())).toMatchObject({
      command: 'stop',
      payload: { action: 'stop' },
    });
    const expiry = packet.properties?.messageExpiryInterval ?? 0;
    expect(expiry).toBeGreaterThan(0);
    expect(expiry).toBeLessThanOrEqual(600);
  });
});

describe('external broker: a broker without MQTT 5', () => {
  it('falls back to MQTT 3.1.1 (aedes) and still turns alerts into SMS', async () => {
    const aedes = new EmbeddedBroker({
      host: '127.0.0.1',
      port: 0,
      access: openAccess,
      intake: async () => undefined,
      logger: silentLogger(),
    });
    await aedes.start();
    cleanup.push(() => aedes.stop());
    const { sim, port } = await simulator();
    const url = `mqtt://127.0.0.1:${aedes.port}`;
    // aedes has no shared subscriptions either: one instance, plain subscriptions
    const { app } = await startApp(url, port, { mqttExtra: ', share_group: false' });
    expect(app.external?.protocolVersion).toBe(4);
    const device = await client(url, { clientId: 'pump-7', protocolVersion: 4 });
    await device.publishAsync('devices/pump-7/alerts/overheat', JSON.stringify({ temp: 99 }), { qos: 1 });
    await waitFor(() => sim.received.some((s) => s.text === 'pump-7 overheating: 99C'), 'SMS at the SMSC');
  });
});

describe.skipIf(!hasMosquitto)('external broker: the README’s Mosquitto ACL', () => {
  const readme = readFileSync(join(import.meta.dirname, '../../README.md'), 'utf8');
  const acl = /```text\n(# mosquitto acl_file for mqtt-sms-bridge[\s\S]*?)```/.exec(readme)?.[1];

  it('lets the bridge work and confines each device to its own topics', async () => {
    expect(acl, 'the ACL block in README "External broker"').toBeDefined();
    const broker = await mosquitto({
      users: { 'sms-bridge': 'bridge-pw', 'pump-7': 'pump7-pw', 'pump-9': 'pump9-pw' },
      acl: acl!,
    });
    const { sim, port } = await simulator();
    await startApp(broker.url, port, { mqttExtra: ', username: sms-bridge, password: bridge-pw' });
    const pump7 = await client(broker.url, { clientId: 'pump-7', username: 'pump-7', password: 'pump7-pw' });
    const pump9 = await client(broker.url, { clientId: 'pump-9', username: 'pump-9', password: 'pump9-pw' });
    const seenBy9: string[] = [];
    pump9.on('message', (topic) => seenBy9.push(topic));
    await pump9.subscribeAsync(['devices/pump-7/commands', 'devices/+/alerts/#'], { qos: 1 });
    // a device speaking for another is refused by the broker (MQTT 5 PUBACK 0x87)
    await expect(
      pump7.publishAsync('devices/pump-9/alerts/overheat', JSON.stringify({ temp: 99 }), { qos: 1 }),
    ).rejects.toThrow(/not authori[sz]ed/i);
    await expect(pump7.publishAsync('devices/pump-7/commands', '{}', { qos: 1 })).rejects.toThrow(
      /not authori[sz]ed/i,
    );
    await pump7.publishAsync('devices/pump-7/alerts/overheat', JSON.stringify({ temp: 97 }), { qos: 1 });
    await waitFor(() => sim.received.some((s) => s.text === 'pump-7 overheating: 97C'), 'SMS at the SMSC');
    expect(sim.received.map((s) => s.text)).toEqual(['pump-7 overheating: 97C']);
    expect(seenBy9).toEqual([]);
  });
});
