import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { App } from '../../src/app.js';
import { loadBridgeConfig } from '../../src/config/load-bridge.js';
import { silentLogger } from '../../src/logger.js';
import { SmscSimulator } from '../../src/simulator/smsc.js';
import { createStore } from '../../src/store/index.js';
import { FaultyStore } from '../helpers/faulty-store.js';
import { tempDir, waitFor, writeBridgeConfig } from '../helpers/harness.js';
import { hasMosquitto, type Mosquitto, startMosquitto } from '../helpers/mosquitto.js';

export const CLI = join(import.meta.dirname, '../../dist/cli.js');

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
`;

const DEVICES = `
type: pump
commands:
  stop: { payload: { action: stop } }
devices:
  - { id: pump-7, name: North field pump 7, operators: [alice] }
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
  devices = false,
): { dir: string; file: string } {
  const dir = tempDir();
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  const file = writeBridgeConfig(dir, smscPort, RULES, '', '', devices ? DEVICES : undefined);
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
  options: { mqttExtra?: string; devices?: boolean; faulty?: (store: FaultyStore) => void } = {},
): Promise<{ app: App; store: FaultyStore | undefined; dir: string }> {
  const { dir, file } = externalConfig(url, smscPort, options.mqttExtra, options.devices);
  const config = loadBridgeConfig(file);
  const store = options.faulty ? new FaultyStore(createStore(config.store)) : undefined;
  if (store) options.faulty?.(store);
  const app = new App({ config, logger: silentLogger(), store, watch: false });
  await app.start();
  cleanup.push(() => app.stop());
  await waitFor(() => app.links[0]!.bound, 'bound to the SMSC');
  return { app, store, dir };
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
});
