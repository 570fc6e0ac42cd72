import { spawn } from 'node:child_process';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/logger.js';
import { SmscSimulator } from '../../src/simulator/smsc.js';
import { tempDir, waitFor } from '../helpers/harness.js';
import { hasMosquitto, startMosquitto } from '../helpers/mosquitto.js';

const CLI = join(import.meta.dirname, '../../dist/cli.js');

/**
 * Two bridge processes in a cluster on Mosquitto: each has its own retained state topic, so the will of the one
 * killed with SIGKILL says `offline` for it alone.
 */
describe.skipIf(!hasMosquitto)('cluster: one state topic per instance', () => {
  const cleanup: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn();
  });

  it("a killed instance's will says offline on its own topic; the other stays online", async () => {
    expect(existsSync(CLI), 'run `npm run build` first').toBe(true);
    const dir = tempDir();
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const broker = await startMosquitto();
    cleanup.push(() => broker.stop());
    const sim = new SmscSimulator({ receipts: false, logger: silentLogger() });
    const { port } = await sim.start({ host: '127.0.0.1', port: 0 });
    cleanup.push(() => sim.stop());
    const start = async (name: string) => {
      const file = join(dir, `${name}.yaml`);
      writeFileSync(
        file,
        `mqtt: { mode: external, url: "${broker.url}", client_id: bridge-${name} }
smpp:
  connections:
    - { id: c1, url: "smpp://127.0.0.1:${port}", system_id: c1, password: secret, source_addr: BRIDGE }
store: { path: ${join(dir, 'bridge.db')} }
rules: []
devices: []
cluster: { enabled: true, instance_id: ${name}, lease_ttl: 1s, poll: 100ms }
`,
      );
      const child = spawn(process.execPath, [CLI, 'start', '--config', file], { stdio: 'ignore' });
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      cleanup.push(async () => {
        child.kill('SIGKILL');
        await exited;
      });
      return { child, exited };
    };
    const states = new Map<string, string>();
    const watcher = await mqtt.connectAsync(broker.url, { protocolVersion: 5 });
    cleanup.push(() => watcher.endAsync());
    watcher.on('message', (topic, payload) => states.set(topic, payload.toString()));
    await watcher.subscribeAsync('sms-bridge/state/+');
    const a = await start('a');
    await start('b');
    await waitFor(
      () => states.get('sms-bridge/state/a') === 'online' && states.get('sms-bridge/state/b') === 'online',
      'both instances online',
      20_000,
    );
    a.child.kill('SIGKILL');
    await a.exited;
    // the broker publishes the will once it sees the connection gone (at once on a reset socket)
    await waitFor(() => states.get('sms-bridge/state/a') === 'offline', 'the will of a', 10_000);
    expect(states.get('sms-bridge/state/b')).toBe('online');
    expect(states.has('sms-bridge/state')).toBe(false);
    // two process start-ups and waits of up to 30 s in all: more than the suite's 20 s default
  }, 60_000);
});
