import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { type Simulation, startSimulation } from '../../src/cli/simulate.js';
import { silentLogger } from '../../src/logger.js';
import { type Harness, startHarness, tempDir, waitFor } from '../helpers/harness.js';

const root = resolve(import.meta.dirname, '../..');
const cli = join(root, 'dist/cli.js'); // built by `npm test` (pretest)
// what `npm start` runs: dist/bridge.cjs, the bundle of dist/ (scripts/bundle.mjs)
const launcher = join(root, 'dist/launch.js');

function run(args: string[], entry = cli): Promise<{ code: number; stdout: string; stderr: string }> {
  return promisify(execFile)('node', [entry, ...args], { cwd: root }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (err: { code: number; stdout: string; stderr: string }) => err,
  );
}

describe('mqtt-sms-bridge as a process', () => {
  it('check passes on the shipped example files (exit 0)', async () => {
    const result = await run(['check']);
    expect(result.stdout).toMatch(/^ok: config\/bridge\.yaml; \d+ rule\(s\)/);
    expect(result.code).toBe(0);
  });

  it('the bundle answers as the compiled files do', async () => {
    // the launcher runs the bundle, not dist/cli.js (src/launch.ts falls back to it for an older bundle)
    expect(statSync(join(root, 'dist/bridge.cjs')).mtimeMs).toBeGreaterThanOrEqual(
      statSync(join(root, 'dist/cli/main.js')).mtimeMs,
    );
    const bundled = await run(['check', '--json'], launcher);
    expect(bundled).toEqual(await run(['check', '--json']));
    expect(bundled.code).toBe(0);
  });

  it('check fails with file:line:col and exit code 1', async () => {
    const dir = tempDir();
    const file = join(dir, 'bridge.yaml');
    writeFileSync(file, 'mqtt: { port: 99999 }\nsmpp: { connections: [] }\n');
    const result = await run(['check', '--config', file]);
    rmSync(dir, { recursive: true, force: true });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`${file}:1:15 mqtt.port: expected a number <= 65535, got 99999`);
    expect(result.stderr).toContain(`${file}:2:22 smpp.connections: expected at least 1 item(s), got 0`);
  });
});

describe('the bundle’s stand-in for `debug`', () => {
  /** The demo config on free ports, started through the launcher with `env`; the MQTT port once it is up. */
  async function startBridge(
    env: NodeJS.ProcessEnv,
  ): Promise<{ child: ChildProcess; port: number; stderr: () => string }> {
    const dir = tempDir();
    const child = spawn(process.execPath, [launcher, 'start'], {
      cwd: root,
      env: {
        ...process.env,
        ...env,
        SMS_BRIDGE_CONFIG_MQTT_PORT: '0',
        SMS_BRIDGE_CONFIG_MQTT_HOST: '127.0.0.1',
        SMS_BRIDGE_CONFIG_SIMULATOR_PORT: '0',
        SMS_BRIDGE_CONFIG_STORE_PATH: join(dir, 'bridge.db'),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout?.on('data', (d) => {
      out += d;
    });
    child.stderr?.on('data', (d) => {
      err += d;
    });
    child.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    const started = await waitFor(
      () =>
        /"mqtt_port":(\d+)[^\n]*"msg":"bridge started"/.exec(out) ??
        (child.exitCode !== null ? 'exited' : undefined),
      'bridge started',
      15_000,
    );
    if (started === 'exited') throw new Error(`the bridge exited: ${err}`);
    return { child, port: Number(started[1]), stderr: () => err };
  }

  /** An MQTT 3.1.1 CONNECT, hand-encoded, and the CONNACK back. */
  async function connectOnce(port: number): Promise<Buffer> {
    const { connect } = await import('node:net');
    const id = Buffer.from('dbg');
    const body = Buffer.concat([
      Buffer.from([0x00, 0x04]),
      Buffer.from('MQTT'),
      Buffer.from([0x04, 0x02, 0x00, 0x3c, 0x00, id.length]),
      id,
    ]);
    const socket = connect(port, '127.0.0.1');
    socket.write(Buffer.concat([Buffer.from([0x10, body.length]), body]));
    return new Promise((resolve, reject) => {
      socket.once('data', (d: Buffer) => {
        socket.destroy();
        resolve(d);
      });
      socket.once('error', reject);
    });
  }

  it('parses MQTT with DEBUG unset, and with DEBUG set writes the package’s lines', async () => {
    for (const DEBUG of [undefined, 'mqtt-packet:*']) {
      const { child, port, stderr } = await startBridge(DEBUG ? { DEBUG } : { DEBUG: '' });
      try {
        const connack = await connectOnce(port);
        expect([...connack.subarray(0, 4)]).toEqual([0x20, 0x02, 0x00, 0x00]);
        if (DEBUG) await waitFor(() => stderr().includes('mqtt-packet:parser'), 'a debug line on stderr');
        else expect(stderr()).not.toContain('mqtt-packet');
      } finally {
        child.kill('SIGKILL');
      }
    }
  });
});

describe('simulate', () => {
  let h: Harness | undefined;
  let simulation: Simulation | undefined;
  afterEach(async () => {
    await simulation?.stop();
    await h?.close();
    simulation = undefined;
    h = undefined;
  });

  it('runs an SMSC and devices whose alerts reach the bridge and become SMS', async () => {
    h = await startHarness();
    simulation = await startSimulation({
      mqttUrl: h.mqttUrl,
      devices: [{ id: 'pump-1' }, { id: 'pump-2' }],
      intervalMs: 40,
      alertEvery: 2,
      smsc: { host: '127.0.0.1', port: 0, receipts: true },
      logger: silentLogger(),
    });
    expect(simulation.smscPort).toBeGreaterThan(0);
    const sim = h.sim;
    const sms = await waitFor(() => sim.received.find((s) => /overheating/.test(s.text)), 'an overheat SMS');
    expect(sms.text).toMatch(/^pump-[12] overheating: \d+(\.\d)?C$/);
  });

  it('through the launcher (the bundle, which requires mqtt.js from node_modules), its devices publish', async () => {
    h = await startHarness();
    const app = await h.connect();
    const heard: string[] = [];
    app.on('message', (topic) => heard.push(topic));
    await app.subscribeAsync('devices/+/telemetry', { qos: 1 });
    const args = ['simulate', '--no-smsc', '--mqtt', h.mqttUrl, '--device', 'pump-1', '--interval', '100ms'];
    const child: ChildProcess = spawn(process.execPath, [launcher, ...args], { cwd: root, stdio: 'ignore' });
    try {
      // a fresh process whose start, beside the suite's two workers on 2 cores, may take more than the default 5 s
      await waitFor(
        () => heard.includes('devices/pump-1/telemetry') || child.exitCode !== null,
        'telemetry',
        15_000,
      );
      expect(heard).toContain('devices/pump-1/telemetry');
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('answers commands with a result', async () => {
    h = await startHarness();
    simulation = await startSimulation({
      mqttUrl: h.mqttUrl,
      devices: [{ id: 'pump-1' }],
      intervalMs: 10_000,
      alertEvery: 6,
      smsc: undefined,
      logger: silentLogger(),
    });
    const app = await h.connect();
    const results: unknown[] = [];
    app.on('message', (_topic, payload) => results.push(JSON.parse(payload.toString())));
    await app.subscribeAsync('devices/pump-1/commands/result', { qos: 1 });
    await app.publishAsync('devices/pump-1/commands', JSON.stringify({ command: 'stop', request_id: 'r1' }), {
      qos: 1,
    });
    expect(await waitFor(() => results[0], 'a command result')).toEqual({
      request_id: 'r1',
      ok: true,
      message: 'pump-1: stop done',
    });
  });
});
