import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/logger.js';
import { SmscSimulator } from '../../src/simulator/smsc.js';
import { tempDir, waitFor, writeBridgeConfig } from '../helpers/harness.js';

// what `npm start` runs: the launcher, which runs the bundle dist/bridge.cjs (from its code cache once written)
const CLI = join(import.meta.dirname, '../../dist/launch.js');

const RULES = `
contacts:
  alice: { phone: "+447700900001" }
rules:
  - id: seq
    topic: devices/+/alerts/seq
    to: [alice]
    text: "alert {{payload.n}}"
    cooldown: 0s
`;

/** Starts the built bridge as a child process; resolves with its MQTT port once it says it started. */
function startBridge(config: string): Promise<{ child: ChildProcess; port: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, 'start', '--config', config], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      for (const line of out.split('\n')) {
        if (!line.includes('"bridge started"')) continue;
        child.stdout?.off('data', onData);
        resolve({ child, port: JSON.parse(line).mqtt_port });
        return;
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.once('exit', (code) => reject(new Error(`bridge exited with ${code}: ${out}`)));
  });
}

describe('crash safety (guarantee 2)', () => {
  const cleanup: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn();
  });

  it('sends every PUBACKed alert after a kill -9 mid-burst, with duplicates bounded by the window', async () => {
    expect(
      existsSync(CLI),
      'dist/launch.js is built by `npm test` (pretest); run `npm run build` first',
    ).toBe(true);
    const dir = tempDir();
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const sim = new SmscSimulator({ receipts: false, logger: silentLogger() });
    const { port: smscPort } = await sim.start({ host: '127.0.0.1', port: 0 });
    cleanup.push(() => sim.stop());
    // a slow SMSC link (20 parts/s) keeps a backlog in the outbox when the process dies
    const config = writeBridgeConfig(dir, smscPort, RULES, '      tps: 20\n      window: 10');

    const first = await startBridge(config);
    cleanup.push(() => {
      first.child.kill('SIGKILL');
    });
    const device = await mqtt.connectAsync(`mqtt://127.0.0.1:${first.port}`, { reconnectPeriod: 0 });
    device.on('error', () => undefined);
    const acked = new Set<number>();
    const total = 5000;
    // at most 20 unacknowledged publishes at a time, so the kill lands in the middle of the stream
    let next = 0;
    let killed = false;
    const publishNext = () => {
      if (killed || next >= total) return;
      const n = next++;
      device.publish('devices/pump-7/alerts/seq', JSON.stringify({ n }), { qos: 1 }, (err) => {
        if (err) return;
        acked.add(n);
        publishNext();
      });
    };
    for (let i = 0; i < 20; i++) publishNext();
    await waitFor(() => acked.size >= 100, '100 PUBACKs', 15_000);
    killed = true;
    first.child.kill('SIGKILL');
    await new Promise((r) => first.child.once('exit', r));
    device.end(true);
    const ackedAtKill = new Set(acked);
    expect(ackedAtKill.size).toBeLessThan(total);
    // the slow link cannot have sent them all: some were only in the outbox when the process died
    expect(sim.received.length).toBeLessThan(ackedAtKill.size);

    const second = await startBridge(config);
    cleanup.push(() => {
      second.child.kill('SIGKILL');
    });
    const received = () => new Set(sim.received.map((s) => Number(s.text.replace('alert ', ''))));
    await waitFor(
      () => [...ackedAtKill].every((n) => received().has(n)),
      'every PUBACKed alert at the SMSC',
      30_000,
    );

    const counts = new Map<string, number>();
    for (const s of sim.received) counts.set(s.text, (counts.get(s.text) ?? 0) + 1);
    const duplicates = [...counts.values()].reduce((sum, c) => sum + (c - 1), 0);
    expect(duplicates).toBeLessThanOrEqual(10);
    // SIGTERM: stop intake, finish in-flight submits, unbind, close the store, exit 0
    second.child.kill('SIGTERM');
    const [code] = (await once(second.child, 'exit')) as [number | null];
    expect(code).toBe(0);
    expect(sim.boundSessions()).toEqual([]);
  }, 60_000);
});
