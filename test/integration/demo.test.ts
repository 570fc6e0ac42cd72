import { rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { App } from '../../src/app.js';
import { loadBridgeConfig } from '../../src/config/load-bridge.js';
import { silentLogger } from '../../src/logger.js';
import { tempDir, waitFor } from '../helpers/harness.js';

/** A port that was free a moment ago (the simulator's port must be known before the config is read). */
function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

describe('the shipped demo configuration (README walk-through)', () => {
  const cleanup: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn();
  });

  it('runs the alert loop and a field worker round trip on config/bridge.yaml', async () => {
    const dir = tempDir();
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const smscPort = await freePort();
    const config = loadBridgeConfig('config/bridge.yaml', {
      SMS_BRIDGE_CONFIG_MQTT_PORT: '0',
      SMS_BRIDGE_CONFIG_HTTP_PORT: '0',
      SMS_BRIDGE_CONFIG_SIMULATOR_PORT: String(smscPort),
      SMS_BRIDGE_CONFIG_SMPP_CONNECTIONS_0_URL: `smpp://127.0.0.1:${smscPort}`,
      SMS_BRIDGE_CONFIG_STORE_PATH: join(dir, 'bridge.db'),
    });
    const app = new App({ config, logger: silentLogger(), watch: false });
    await app.start();
    cleanup.push(() => app.stop());
    const sim = app.simulator!;
    await waitFor(() => app.links[0]!.bound, 'bound to the built-in simulator');
    const url = `mqtt://127.0.0.1:${app.broker.port}`;

    // mosquitto_pub -t devices/pump-7/alerts/overheat -m '{"temp":95}'
    const pub = await mqtt.connectAsync(url, { reconnectPeriod: 0 });
    cleanup.push(() => pub.endAsync(true));
    await pub.publishAsync('devices/pump-7/alerts/overheat', '{"temp":95}', { qos: 1 });
    await waitFor(() => sim.received.length >= 2, 'the alert SMS to north-field');
    expect(sim.received[0]?.text).toBe('North field pump 7 overheating: 95C. Reply ACK 1');

    // a late subscriber sees the open alert, retained
    const watcher = await mqtt.connectAsync(url, { reconnectPeriod: 0 });
    cleanup.push(() => watcher.endAsync(true));
    const alertEvent = new Promise<{ payload: Record<string, unknown>; retain: boolean }>((resolve) =>
      watcher.once('message', (_t, p, packet) =>
        resolve({ payload: JSON.parse(p.toString()), retain: packet.retain }),
      ),
    );
    await watcher.subscribeAsync('sms-bridge/alerts/+', { qos: 1 });
    expect(await alertEvent).toMatchObject({ retain: true, payload: { state: 'open', ref: '1' } });

    // mosquitto_sub -t devices/pump-7/commands -u pump-7 -P pump7-demo
    const pump = await mqtt.connectAsync(url, {
      reconnectPeriod: 0,
      username: 'pump-7',
      password: 'pump7-demo',
    });
    cleanup.push(() => pump.endAsync(true));
    const commands: string[] = [];
    pump.on('message', (_t, p) => commands.push(JSON.parse(p.toString()).command));
    await pump.subscribeAsync('devices/pump-7/commands', { qos: 1 });

    // mosquitto_pub -t sms-bridge/simulator/mo -m '{"from":"+447700900001","text":"PUMP-7 STOP"}'
    await pub.publishAsync('sms-bridge/simulator/mo', '{"from":"+447700900001","text":"PUMP-7 STOP"}', {
      qos: 1,
    });
    await waitFor(() => commands.length === 1, 'the command at the device');
    expect(commands).toEqual(['stop']);
    await waitFor(() => sim.received.some((s) => s.text === 'PUMP-7 STOP sent.'), 'the reply SMS');
  });
});
