import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { App } from '../../src/app.js';
import { loadBridgeConfig } from '../../src/config/load-bridge.js';
import { silentLogger } from '../../src/logger.js';
import { SmscSimulator } from '../../src/simulator/smsc.js';
import { tempDir, waitFor } from '../helpers/harness.js';

/** Instances in one process sharing one SQLite file and one SMPP connection, c1, to one simulator. */
describe('cluster: instances sharing one connection', () => {
  const cleanup: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn();
  });

  async function setup(smscPassword?: string) {
    const dir = tempDir();
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const sim = new SmscSimulator({ receipts: false, password: smscPassword, logger: silentLogger() });
    const { port } = await sim.start({ host: '127.0.0.1', port: 0 });
    cleanup.push(() => sim.stop());
    /** `extra`: more top-level YAML; `cluster`: more keys of `cluster:` */
    const start = async (name: string, o: { password?: string; extra?: string; cluster?: string } = {}) => {
      const file = join(dir, `${name}.yaml`);
      writeFileSync(
        file,
        `mqtt: { host: 127.0.0.1, port: 0, allow_anonymous: true }
smpp:
  connections:
    - { id: c1, url: "smpp://127.0.0.1:${port}", system_id: c1, password: ${o.password ?? 'secret'}, source_addr: BRIDGE, address_range: ${name}, reconnect: { initial: 50ms, max: 200ms } }
store: { path: ${join(dir, 'bridge.db')} }
rules: []
devices: []
cluster: { enabled: true, instance_id: ${name}, lease_ttl: 1s, poll: 100ms${o.cluster ?? ''} }
${o.extra ?? ''}
`,
      );
      const app = new App({ config: loadBridgeConfig(file), logger: silentLogger(), watch: false });
      await app.start();
      cleanup.push(() => app.stop());
      return app;
    };
    return { sim, start };
  }

  it('/readyz: 200 with cluster: true on the instance without the connection; 503 once its heartbeat is late', async () => {
    const { start } = await setup();
    const http = 'http: { enabled: true, host: 127.0.0.1, port: 0, token: t }';
    const a = await start('a', { extra: http });
    const b = await start('b', { extra: http });
    await waitFor(
      () => a.links.some((l) => l.bound) || b.links.some((l) => l.bound),
      'one instance binds c1',
      10_000,
    );
    const [owner, other] = a.links.some((l) => l.bound) ? [a, b] : [b, a];
    const readyz = async (app: App) => {
      const res = await fetch(`http://127.0.0.1:${app.http?.port}/readyz`);
      return { status: res.status, body: (await res.json()) as { checks: Record<string, boolean> } };
    };
    await waitFor(() => other.cluster?.member === true, 'the other instance beats', 5_000);
    // status and checks in one assertion: a failure shows which check was down (one 503 seen under a loaded
    // machine, lease_ttl 1s, without the checks)
    const mine = await readyz(owner);
    expect({ status: mine.status, ...mine.body.checks }).toMatchObject({
      status: 200,
      smsc: true,
      cluster: true,
    });
    const theirs = await readyz(other);
    expect({ status: theirs.status, ...theirs.body.checks }).toMatchObject({
      status: 200,
      smsc: false,
      cluster: true,
    });
    // a member that stopped renewing (here: stopped) is not ready
    await other.cluster?.stop();
    const late = await readyz(other);
    expect(late.body.checks).toMatchObject({ smsc: false, cluster: false });
    expect(late.status).toBe(503);
  });

  /**
   * The SMSC refuses the first instance's binds (its password is wrong, as with an SMSC that admits only some
   * source addresses). It takes the lease, cannot bind, hands the connection over after `unbound_handover`, and
   * the second instance binds it and sends the SMS.
   */
  it('hands a connection its owner cannot bind to an instance that can, with the SMS queued for it', async () => {
    const { sim, start } = await setup('right');
    const handover = ', unbound_handover: 1500ms';
    const refused = await start('refused', { password: 'wrong', cluster: handover });
    await waitFor(
      () => refused.cluster?.ownedConnections.includes('c1'),
      'the first instance holds c1',
      5_000,
    );
    const good = await start('good', { password: 'right', cluster: handover });
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
