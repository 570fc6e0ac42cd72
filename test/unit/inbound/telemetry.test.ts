import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type Device, DeviceRegistry } from '../../../src/devices/registry.js';
import { Telemetry } from '../../../src/inbound/telemetry.js';
import { silentLogger } from '../../../src/logger.js';
import { SqliteStore } from '../../../src/store/sqlite/sqlite-store.js';

const pump: Device = { id: 'pump-7', name: 'Pump 7', type: 'pump', commands: new Map(), operators: [] };
const registryOf = (...devices: Device[]) =>
  new DeviceRegistry(devices.map((device) => ({ device, passwordHash: '' })));

describe('Telemetry (last telemetry per registered device, for STATUS)', () => {
  let store: SqliteStore;
  let registry: DeviceRegistry;
  let telemetry: Telemetry;

  beforeEach(async () => {
    store = new SqliteStore({ path: ':memory:' });
    await store.start();
    registry = registryOf();
    telemetry = new Telemetry({ store, devices: () => registry, logger: silentLogger() });
    await telemetry.start();
  });
  afterEach(async () => {
    await telemetry.stop();
    await store.stop();
  });

  const status = () => telemetry.statusText({ id: 'pump-7', name: 'Pump 7' });

  it('keeps the telemetry of a device registered by a reload after its topic was last seen unregistered', () => {
    telemetry.seen('devices/pump-7/telemetry', Buffer.from('{"temp":20}'));
    expect(status()).toMatch(/no telemetry received yet/);
    registry = registryOf(pump);
    telemetry.seen('devices/pump-7/telemetry', Buffer.from('{"temp":21}'));
    expect(status()).toMatch(/^PUMP-7 temp=21 /);
  });

  it('forgets nothing when devices publish in turn, and ignores unregistered ones', () => {
    registry = registryOf(pump, { ...pump, id: 'fan-1', name: 'Fan 1' });
    telemetry.seen('devices/pump-7/telemetry', Buffer.from('{"temp":21}'));
    telemetry.seen('devices/ghost/telemetry', Buffer.from('{"temp":99}'));
    telemetry.seen('devices/fan-1/telemetry', Buffer.from('{"rpm":900}'));
    telemetry.seen('devices/pump-7/telemetry', Buffer.from('{"temp":22}'));
    expect(status()).toMatch(/^PUMP-7 temp=22 /);
    expect(telemetry.statusText({ id: 'fan-1', name: 'Fan 1' })).toMatch(/^FAN-1 rpm=900 /);
    expect(telemetry.statusText({ id: 'ghost', name: 'ghost' })).toMatch(/no telemetry received yet/);
  });
});
