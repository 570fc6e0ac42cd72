import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { App } from '../../src/app.js';
import { loadBridgeConfig } from '../../src/config/load-bridge.js';
import { type Logger, silentLogger } from '../../src/logger.js';
import { SmscSimulator, type SmscSimulatorOptions } from '../../src/simulator/smsc.js';
import type { Store } from '../../src/store/store.js';

export const PUMP_RULES = `
contacts:
  alice: { phone: "+44 7700 900001", name: Alice }
  bob: { phone: "+447700900002" }
groups:
  north-field: [alice]
rules:
  - id: pump-overheat
    topic: devices/+/alerts/overheat
    when: temp > 90
    to: [north-field]
    text: "{{device.id}} overheating: {{payload.temp}}C"
    priority: critical
  - id: pump-any
    topic: devices/+/alerts/greek
    to: [bob]
    text: "Θερμοκρασία {{payload}}"
`;

export interface Harness {
  dir: string;
  app: App;
  sim: SmscSimulator;
  smscPort: number;
  mqttUrl: string;
  dbPath: string;
  connect(options?: IClientOptions): Promise<MqttClient>;
  close(): Promise<void>;
}

export interface HarnessOptions {
  rules?: string;
  /** extra YAML appended under `smpp.connections[0]` (6 spaces), or further connections (4 spaces, `- id: ...`) */
  connectionYaml?: string;
  /** extra YAML under `smpp:` (2 spaces), e.g. `  max_age: 1s` */
  smppYaml?: string;
  /** a device file; none when unset */
  devicesYaml?: string;
  /** Default true. */
  allowAnonymous?: boolean;
  sim?: Partial<SmscSimulatorOptions>;
  store?: (path: string) => Store;
  /** the bridge's logger (not the simulator's). Default: silent. */
  logger?: Logger;
  /** bind to this SMSC (e.g. a RawSmsc) instead of the built-in simulator, which still runs but idles */
  smscPort?: number;
  /** App's time between history purges. Default: App's (10 minutes). */
  historyIntervalMs?: number;
}

export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'sms-bridge-test-'));
}

export function writeBridgeConfig(
  dir: string,
  smscPort: number,
  rules: string,
  connectionYaml = '',
  smppYaml = '',
  devicesYaml?: string,
  allowAnonymous = true,
): string {
  writeFileSync(join(dir, 'rules.yaml'), rules);
  if (devicesYaml !== undefined) writeFileSync(join(dir, 'devices.yaml'), devicesYaml);
  const file = join(dir, 'bridge.yaml');
  writeFileSync(
    file,
    `mqtt: { host: 127.0.0.1, port: 0, allow_anonymous: ${allowAnonymous} }
smpp:
  connections:
    - id: main
      url: "smpp://127.0.0.1:${smscPort}"
      system_id: bridge
      password: secret
      source_addr: BRIDGE
      enquire_link_interval: 1s
      response_timeout: 2s
      reconnect: { initial: 50ms, max: 500ms }
${connectionYaml}
${smppYaml}
store: { path: ${join(dir, 'bridge.db')} }
rules: [${join(dir, 'rules.yaml')}]
devices: [${devicesYaml === undefined ? '' : join(dir, 'devices.yaml')}]
`,
  );
  return file;
}

export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const dir = tempDir();
  const sim = new SmscSimulator({ receipts: false, logger: silentLogger(), ...options.sim });
  const { port: simPort } = await sim.start({ host: '127.0.0.1', port: 0 });
  const smscPort = options.smscPort ?? simPort;
  const config = loadBridgeConfig(
    writeBridgeConfig(
      dir,
      smscPort,
      options.rules ?? PUMP_RULES,
      options.connectionYaml,
      options.smppYaml,
      options.devicesYaml,
      options.allowAnonymous,
    ),
  );
  const dbPath = join(dir, 'bridge.db');
  const app = new App({
    config,
    logger: options.logger ?? silentLogger(),
    store: options.store?.(dbPath),
    historyIntervalMs: options.historyIntervalMs,
  });
  await app.start();
  const clients: MqttClient[] = [];
  const mqttUrl = `mqtt://127.0.0.1:${app.broker.port}`;
  return {
    dir,
    app,
    sim,
    smscPort,
    mqttUrl,
    dbPath,
    async connect(clientOptions: IClientOptions = {}) {
      const client = await mqtt.connectAsync(mqttUrl, { reconnectPeriod: 0, ...clientOptions });
      clients.push(client);
      return client;
    },
    async close() {
      await Promise.all(clients.map((c) => c.endAsync(true)));
      await app.stop();
      await sim.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Resolves when the predicate holds, polling; rejects after `ms` with the message. */
export async function waitFor<T>(
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  message: string,
  ms = 5000,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting: ${message}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
