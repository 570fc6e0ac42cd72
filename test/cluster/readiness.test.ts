import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { App } from '../../src/app.js';
import { loadBridgeConfig } from '../../src/config/load-bridge.js';
import { silentLogger } from '../../src/logger.js';
import { SmscSimulator } from '../../src/simulator/smsc.js';
import { tempDir, waitFor } from '../helpers/harness.js';

/** Two instances sharing one SQLite file and one SMPP connection: the one without it is still ready. */
describe('cluster: readiness of an instance that owns no connection', () => {
  const cleanup: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn();
  });

  it('answers /readyz 200 with cluster: true, and 503 once its heartbeat is late', async () => {
    const dir = tempDir();
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const sim = new SmscSimulator({ receipts: false, logger: silentLogger() });
    const { port } = await sim.start({ host: '127.0.0.1', port: 0 });
    cleanup.push(() => sim.stop());
    const start = async (name: string) => {
      const file = join(dir, `${name}.yaml`);
      writeFileSync(
        file,
        `mqtt: { host: 127.0.0.1, port: 0, allow_anonymous: true }
smpp:
  connections:
    - { id: c1, url: "smpp://127.0.0.1:${port}", system_id: c1, password: secret, source_addr: BRIDGE, reconnect: { initial: 50ms, max: 200ms } }
store: { path: ${join(dir, 'bridge.db')} }
http: { enabled: true, host: 127.0.0.1, port: 0, token: t }
rules: []
devices: []
cluster: { enabled: true, instance_id: ${name}, lease_ttl: 1s, poll: 100ms }
`,
      );
      const app = new App({ config: loadBridgeConfig(file), logger: silentLogger(), watch: false });
      await app.start();
      cleanup.push(() => app.stop());
      return app;
    };
    const a = await start('a');
    const b = await start('b');
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
    const mine = await readyz(owner);
    expect(mine.status).toBe(200);
    expect(mine.body.checks).toMatchObject({ smsc: true, cluster: true });
    const theirs = await readyz(other);
    expect(theirs.body.checks).toMatchObject({ smsc: false, cluster: true });
    expect(theirs.status).toBe(200);
    // a member that stopped renewing (here: stopped) is not ready
    await other.cluster?.stop();
    const late = await readyz(other);
    expect(late.body.checks).toMatchObject({ smsc: false, cluster: false });
    expect(late.status).toBe(503);
  });
});
