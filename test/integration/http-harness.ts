import { appendFileSync, rmSync } from 'node:fs';
import mqtt, { type MqttClient } from 'mqtt';
import { App } from '../../src/app.js';
import { loadBridgeConfig } from '../../src/config/load-bridge.js';
import { silentLogger } from '../../src/logger.js';
import { SmscSimulator, type SmscSimulatorOptions } from '../../src/simulator/smsc.js';
import { PUMP_RULES, tempDir, waitFor, writeBridgeConfig } from '../helpers/harness.js';

export const TOKEN = 'test-token-5f1c9a';

/** The real App with its HTTP server on port 0, the token coming from the environment as `${VAR}`. */
export interface HttpHarness {
  app: App;
  sim: SmscSimulator;
  /** `http://127.0.0.1:<port>` */
  url: string;
  /** fetch against the server, with the bearer token unless `auth: false` */
  api(path: string, init?: RequestInit & { auth?: boolean }): Promise<Response>;
  publish(topic: string, payload: string): Promise<void>;
  close(): Promise<void>;
}

export async function startHttpHarness(
  options: { sim?: Partial<SmscSimulatorOptions>; rules?: string } = {},
): Promise<HttpHarness> {
  const dir = tempDir();
  const sim = new SmscSimulator({ receipts: false, logger: silentLogger(), ...options.sim });
  const { port: smscPort } = await sim.start({ host: '127.0.0.1', port: 0 });
  const file = writeBridgeConfig(dir, smscPort, options.rules ?? PUMP_RULES);
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a ${VAR} reference for the config loader
  appendFileSync(file, 'http: { enabled: true, host: 127.0.0.1, port: 0, token: "${HTTP_TEST_TOKEN}" }\n');
  const config = loadBridgeConfig(file, { HTTP_TEST_TOKEN: TOKEN });
  const app = new App({ config, logger: silentLogger(), watch: false });
  await app.start();
  const url = `http://127.0.0.1:${app.http?.port}`;
  let client: MqttClient | undefined;
  return {
    app,
    sim,
    url,
    api(path, init = {}) {
      const { auth = true, ...rest } = init;
      const headers = new Headers(rest.headers);
      if (auth) headers.set('authorization', `Bearer ${TOKEN}`);
      return fetch(`${url}${path}`, { ...rest, headers });
    },
    async publish(topic, payload) {
      client ??= await mqtt.connectAsync(`mqtt://127.0.0.1:${app.broker.port}`, { reconnectPeriod: 0 });
      await client.publishAsync(topic, payload, { qos: 1 });
    },
    async close() {
      await client?.endAsync(true);
      await app.stop();
      await sim.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Waits until the SMSC link of the app is bound. */
export function bound(h: HttpHarness): Promise<true> {
  return waitFor(() => h.app.links.every((l) => l.bound), 'SMSC bound');
}
