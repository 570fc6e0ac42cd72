import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { App } from '../../src/app.js';
import { loadBridgeConfig } from '../../src/config/load-bridge.js';
import { silentLogger } from '../../src/logger.js';
import { SmscSimulator } from '../../src/simulator/smsc.js';
import { tempDir, waitFor } from '../helpers/harness.js';

/**
 * Two instances sharing one SQLite file and one SMPP connection; the SMSC refuses the first instance's binds
 * (its password is wrong: as an SMSC that admits only some source addresses would). The first takes the lease,
 * cannot bind, hands the connection over after `unbound_handover`, and the second binds it and sends the SMS.
 */
describe('cluster: a connection its owner cannot bind is handed over', () => {
  const cleanup: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn();
  });

  it('the SMS queued for it are sent by the instance that can bind it', async () => {
    const dir = tempDir();
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const sim = new SmscSimulator({ receipts: false, password: 'right', logger: silentLogger() });
    const { port } = await sim.start({ host: '127.0.0.1', port: 0 });
    cleanup.push(() => sim.stop());
    const start = async (name: string, password: string) => {
      const file = join(dir, `${name}.yaml`);
      writeFileSync(
        file,
        `mqtt: { host: 127.0.0.1, port: 0, allow_anonymous: true }
smpp:
  connections:
    - { id: c1, url: "smpp://127.0.0.1:${port}", system_id: c1, password: ${password}, source_addr: BRIDGE, address_range: ${name}, reconnect: { initial: 50ms, max: 200ms } }
store: { path: ${join(dir, 'bridge.db')} }
rules: []
devices: []
cluster: { enabled: true, instance_id: ${name}, lease_ttl: 1s, poll: 100ms, unbound_handover: 1500ms }
`,
      );
      const app = new App({ config: loadBridgeConfig(file), logger: silentLogger(), watch: false });
      await app.start();
      cleanup.push(() => app.stop());
      return app;
    };
    const refused = await start('refused', 'wrong');
    await waitFor(
      () => refused.cluster?.ownedConnections.includes('c1'),
      'the first instance holds c1',
      5_000,
    );
    const good = await start('good', 'right');
    await refused.queue([
      {
        to: '+447700900001',
        text: 'for c1',
        priority: 'normal',
        source: 'test',
        expiresAt: Date.now() + 60_000,
      },
    ]);
    await waitFor(() => sim.received.length > 0, 'the SMS reaches the SMSC', 15_000);
    expect(good.cluster?.ownedConnections).toEqual(['c1']);
    expect(refused.cluster?.ownedConnections).toEqual([]);
    expect(sim.binds.filter((b) => b.commandStatus === 0).map((b) => b.addressRange)).toEqual(['good']);
    expect(sim.binds.some((b) => b.addressRange === 'refused' && b.commandStatus !== 0)).toBe(true);
  });
});
