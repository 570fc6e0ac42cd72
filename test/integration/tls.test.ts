import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type BusMessage, openAccess } from '../../src/broker/bus.js';
import { EmbeddedBroker } from '../../src/broker/embedded.js';
import { parseBridgeConfig } from '../../src/config/load-bridge.js';
import { isBridgeError } from '../../src/errors.js';
import { silentLogger } from '../../src/logger.js';
import { SmscSimulator } from '../../src/simulator/smsc.js';
import { tempDir, waitFor, writeBridgeConfig } from '../helpers/harness.js';

let dir: string;
let cert: string;
let key: string;

beforeAll(() => {
  dir = tempDir();
  cert = join(dir, 'cert.pem');
  key = join(dir, 'key.pem');
  // self-signed for localhost and 127.0.0.1, made at test time: no key is committed
  execFileSync(
    'openssl',
    [
      ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1'],
      ['-keyout', key, '-out', cert, '-subj', '/CN=localhost'],
      ['-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'],
    ].flat(),
    { stdio: 'ignore' },
  );
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const brokers: EmbeddedBroker[] = [];
const clients: MqttClient[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.endAsync(true)));
  for (const b of brokers.splice(0)) await b.stop();
});

async function startBroker(tls: { ca?: string } = {}) {
  const received: BusMessage[] = [];
  const broker = new EmbeddedBroker({
    host: '127.0.0.1',
    port: 0,
    access: openAccess,
    intake: async (message) => {
      received.push(message);
    },
    logger: silentLogger(),
    tls: { port: 0, cert, key, ...tls },
    websocket: { port: 0 },
  });
  brokers.push(broker);
  await broker.start();
  return { broker, received };
}

async function connect(url: string, options: mqtt.IClientOptions = {}): Promise<MqttClient> {
  const client = await mqtt.connectAsync(url, { reconnectPeriod: 0, connectTimeout: 3000, ...options });
  clients.push(client);
  return client;
}

describe('MQTT over TLS and WebSocket', () => {
  it('reads mqtt.tls and mqtt.websocket with their defaults', () => {
    const config = parseBridgeConfig(
      `mqtt: { tls: { cert: c.pem, key: k.pem }, websocket: {} }
smpp: { connections: [{ id: a, url: "smpp://127.0.0.1:1", system_id: b }] }`,
      { env: {} },
    );
    expect(config.mqtt.tls).toEqual({ port: 8883, cert: 'c.pem', key: 'k.pem' });
    expect(config.mqtt.websocket).toEqual({ port: 8083 });
  });

  it('serves TCP, TLS and WebSocket clients from one broker, with intake on each', async () => {
    const { broker, received } = await startBroker();
    expect(broker.tlsPort).toBeGreaterThan(0);
    expect(broker.websocketPort).toBeGreaterThan(0);
    const tcp = await connect(`mqtt://127.0.0.1:${broker.port}`);
    const seen: string[] = [];
    tcp.on('message', (topic) => seen.push(topic));
    await tcp.subscribeAsync('devices/#', { qos: 1 });
    const secure = await connect(`mqtts://localhost:${broker.tlsPort}`, { ca: readFileSync(cert) });
    const ws = await connect(`ws://127.0.0.1:${broker.websocketPort}/mqtt`);
    await secure.publishAsync('devices/tls-1/telemetry', '{"t":1}', { qos: 1 });
    await ws.publishAsync('devices/ws-1/telemetry', '{"t":2}', { qos: 1 });
    expect(received.map((m) => m.topic)).toEqual(['devices/tls-1/telemetry', 'devices/ws-1/telemetry']);
    await waitFor(() => seen.length === 2, 'both messages at the TCP subscriber');
  });

  it('refuses a TLS client that does not trust the certificate', async () => {
    const { broker } = await startBroker();
    await expect(connect(`mqtts://localhost:${broker.tlsPort}`)).rejects.toThrow(/self-signed|certificate/);
  });

  it('with mqtt.tls.ca, requires a client certificate signed by it', async () => {
    const { broker } = await startBroker({ ca: cert });
    const url = `mqtts://localhost:${broker.tlsPort}`;
    const ca = readFileSync(cert);
    await expect(connect(url, { ca })).rejects.toThrow();
    const client = await connect(url, { ca, cert: readFileSync(cert), key: readFileSync(key) });
    expect(client.connected).toBe(true);
  });

  it('names the setting when a certificate file cannot be read', async () => {
    const broker = new EmbeddedBroker({
      host: '127.0.0.1',
      port: 0,
      access: openAccess,
      intake: async () => undefined,
      logger: silentLogger(),
      tls: { port: 0, cert: join(dir, 'missing.pem'), key },
    });
    brokers.push(broker);
    const error = await broker.start().then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(isBridgeError(error, 'ERR_CONFIG_READ')).toBe(true);
    expect((error as Error).message).toMatch(/mqtt\.tls\.cert .*missing\.pem: ENOENT/);
  });
});

describe('MQTT over TLS and WebSocket through the launcher (the bundle, as `npm start` runs it)', () => {
  let child: ChildProcess | undefined;
  let sim: SmscSimulator | undefined;
  afterEach(async () => {
    child?.kill('SIGKILL');
    child = undefined;
    await sim?.stop();
    sim = undefined;
  });

  // node:tls and node:http are loaded only when these listeners are on: in the bundle's vm.Script, where an
  // import() of a built-in has no loader, that must still work
  it('serves TLS and WebSocket clients', async () => {
    sim = new SmscSimulator({ receipts: false, logger: silentLogger() });
    const { port: smscPort } = await sim.start({ host: '127.0.0.1', port: 0 });
    const config = writeBridgeConfig(dir, smscPort, 'rules: []\n');
    const text = readFileSync(config, 'utf8').replace(
      'allow_anonymous: true }',
      `allow_anonymous: true, tls: { port: 0, cert: "${cert}", key: "${key}" }, websocket: { port: 0 } }`,
    );
    writeFileSync(config, text);
    const launcher = join(import.meta.dirname, '../../dist/launch.js');
    const started = spawn(process.execPath, [launcher, 'start', '--config', config], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = started;
    let stderr = '';
    started.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const ports: Record<string, number> = {};
    let out = '';
    started.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      for (const line of out.split('\n')) {
        if (!line.startsWith('{')) continue;
        const entry = JSON.parse(line) as { listener?: string; port?: number };
        if (entry.listener && entry.port) ports[entry.listener] = entry.port;
      }
    });
    await waitFor(() => (ports.tls && ports.websocket) || started.exitCode !== null, 'both listeners');
    expect(stderr).toBe('');
    const secure = await connect(`mqtts://localhost:${ports.tls}`, { ca: readFileSync(cert) });
    const ws = await connect(`ws://127.0.0.1:${ports.websocket}/mqtt`);
    expect([secure.connected, ws.connected]).toEqual([true, true]);
  });
});
