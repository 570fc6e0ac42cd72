import { join } from 'node:path';
import Database from 'better-sqlite3';
import mqtt from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { App } from '../../src/app.js';
import { loadBridgeConfig } from '../../src/config/load-bridge.js';
import { silentLogger } from '../../src/logger.js';
import { type Harness, startHarness, waitFor } from '../helpers/harness.js';

const RULES = `
contacts:
  alice: { phone: "+447700900001", name: Alice }
rules:
  - id: pressure
    topic: devices/+/alerts/pressure
    to: [alice]
    text: "{{device.id}} pressure. Reply ACK {{alert.ref}}"
    resolve_topic: devices/+/alerts/pressure/clear
`;

describe('retained alert topics across a restart (written by the alert table, not per message)', () => {
  let h: Harness | undefined;
  let second: App | undefined;
  afterEach(async () => {
    await second?.stop();
    second = undefined;
    await h?.close();
    h = undefined;
  });

  it('brings back the open alert and not the resolved one, with no broker row per alert change', async () => {
    h = await startHarness({ rules: RULES });
    const device = await h.connect();
    await device.publishAsync('devices/pump-7/alerts/pressure', '{}', { qos: 1 });
    await device.publishAsync('devices/pump-8/alerts/pressure', '{}', { qos: 1 });
    const sim = h.sim;
    await waitFor(() => sim.received.length >= 2, 'both alert SMS');
    await device.publishAsync('devices/pump-8/alerts/pressure/clear', '{}', { qos: 1 });
    await waitFor(() => h!.app.alerts.live().length === 1, 'pump-8 resolved');
    await device.endAsync(true);
    await h.app.stop();
    const db = new Database(h.dbPath, { readonly: true });
    const rows = db.prepare("SELECT topic FROM broker_retained WHERE topic LIKE '%/alerts/%'").all();
    db.close();
    expect(rows).toEqual([]);

    second = new App({ config: loadBridgeConfig(join(h.dir, 'bridge.yaml')), logger: silentLogger() });
    await second.start();
    const late = await mqtt.connectAsync(`mqtt://127.0.0.1:${second.broker.port}`, { reconnectPeriod: 0 });
    const seen: Array<{ topic: string; state: string; retain: boolean }> = [];
    late.on('message', (topic, payload, packet) =>
      seen.push({ topic, state: JSON.parse(payload.toString()).state, retain: packet.retain }),
    );
    await late.subscribeAsync('sms-bridge/alerts/#', { qos: 1 });
    await waitFor(() => seen[0], 'the retained open alert');
    await new Promise((r) => setTimeout(r, 300)); // the resolved one must not come
    await late.endAsync(true);
    expect(seen).toEqual([{ topic: 'sms-bridge/alerts/1', state: 'open', retain: true }]);
  });
});
