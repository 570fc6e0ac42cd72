import { appendFileSync, rmSync } from 'node:fs';
import { expect, it } from 'vitest';
import { App } from '../../src/app.js';
import { loadBridgeConfig } from '../../src/config/load-bridge.js';
import { silentLogger } from '../../src/logger.js';
import { SmscSimulator } from '../../src/simulator/smsc.js';
import { PostgresStore } from '../../src/store/postgres/postgres-store.js';
import { PUMP_RULES, startHarness, tempDir, waitFor, writeBridgeConfig } from '../helpers/harness.js';
import { usePostgres } from '../helpers/postgres.js';

const server = usePostgres();

it('runs the bridge on PostgreSQL: an alert becomes an SMS, the broker state outlives a restart', async () => {
  const url = await server.createDatabase();
  const start = () => startHarness({ store: () => new PostgresStore({ url, poolSize: 4 }) });
  const first = await start();
  try {
    await waitFor(() => first.app.links[0]!.bound, 'bound');
    const device = await first.connect({ clientId: 'pump-7' });
    await device.publishAsync('devices/pump-7/alerts/overheat', JSON.stringify({ temp: 95 }), { qos: 1 });
    await device.publishAsync('devices/pump-7/info', 'kept', { qos: 1, retain: true });
    await waitFor(() => first.sim.received.length === 1, 'the SMS reaches the SMSC');
    await waitFor(
      async () => (await first.app.store.listSms())[0]?.state === 'submitted',
      'the SMS is recorded as submitted',
    );
  } finally {
    await first.close();
  }
  const second = await start();
  try {
    const [sms] = await second.app.store.listSms();
    expect(sms).toMatchObject({ to: '+447700900001', state: 'submitted', text: 'pump-7 overheating: 95C' });
    const late = await second.connect();
    const retained: string[] = [];
    late.on('message', (topic, payload) => {
      if (topic === 'devices/pump-7/info') retained.push(payload.toString());
    });
    await late.subscribeAsync('devices/pump-7/info', { qos: 1 });
    await waitFor(() => retained.length > 0, 'the retained message from before the restart');
    expect(retained).toEqual(['kept']);
  } finally {
    await second.close();
    await server.dropDatabase(url);
  }
}, 120_000);

it('starts from config with SMS_BRIDGE_CONFIG_STORE_URL and is ready (no SQLite file to check)', async () => {
  const url = await server.createDatabase();
  const dir = tempDir();
  const sim = new SmscSimulator({ receipts: false, logger: silentLogger() });
  const { port } = await sim.start({ host: '127.0.0.1', port: 0 });
  const file = writeBridgeConfig(dir, port, PUMP_RULES);
  appendFileSync(file, 'http: { enabled: true, host: 127.0.0.1, port: 0 }\n');
  const app = new App({
    config: loadBridgeConfig(file, { SMS_BRIDGE_CONFIG_STORE_URL: url }),
    logger: silentLogger(),
    watch: false,
  });
  try {
    await app.start();
    expect(app.store).toBeInstanceOf(PostgresStore);
    await waitFor(() => app.links[0]!.bound, 'bound');
    const ready = await fetch(`http://127.0.0.1:${app.http?.port}/readyz`);
    expect(await ready.json()).toMatchObject({ ready: true, checks: { store: true } });
  } finally {
    await app.stop();
    await sim.stop();
    rmSync(dir, { recursive: true, force: true });
    await server.dropDatabase(url);
  }
}, 60_000);
