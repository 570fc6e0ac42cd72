import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import mqtt, { type MqttClient } from 'mqtt';
import smpp from 'smpp';
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { FaultyStore } from '../helpers/faulty-store.js';
import { startHarness, tempDir, waitFor, writeBridgeConfig } from '../helpers/harness.js';

// what `npm start` runs: the launcher, which runs the bundle dist/bridge.cjs (from its code cache once written)
const CLI = join(import.meta.dirname, '../../dist/launch.js');

const RULES = `
contacts:
  alice: { phone: "+447700900001" }
rules:
  - id: hot
    topic: devices/+/alerts/hot
    to: [alice]
    text: "hot {{payload.n}}"
    cooldown: 0s
`;

type LogLine = Record<string, unknown> & { msg?: string };

/** SMPP 3.4 §5.1.3 ESME_RX_T_APPN: "retry later" */
const ESME_RX_T_APPN = 0x64;

/** Enqueues take 500 ms, so a publish is still in intake when the shutdown starts. */
const slowStore = (path: string) =>
  new FaultyStore(new SqliteStore({ path }), [{ op: 'outbox.enqueue', nth: 'all', kind: 'delay', ms: 500 }]);

/**
 * An SMSC that binds, answers enquire_link and unbind, and holds each submit_sm_resp for `holdMs`
 * (forever when undefined): an SMS stays in flight for as long as a test needs.
 */
async function startSlowSmsc(holdMs: number | undefined) {
  const submits: number[] = [];
  const unbinds: string[] = [];
  const timers = new Set<NodeJS.Timeout>();
  const sessions = new Set<smpp.Session>();
  const server = smpp.createServer((session) => {
    sessions.add(session);
    session.on('error', () => undefined);
    session.on('close', () => sessions.delete(session));
    session.on('pdu', (pdu) => {
      switch (pdu.command) {
        case 'bind_transceiver':
        case 'enquire_link':
          session.send(pdu.response());
          return;
        case 'unbind':
          unbinds.push(pdu.command);
          session.send(pdu.response());
          return;
        case 'submit_sm': {
          submits.push(pdu.sequence_number);
          if (holdMs === undefined) return;
          const timer = setTimeout(() => {
            timers.delete(timer);
            session.send(pdu.response({ message_id: `id-${submits.length}` }));
          }, holdMs);
          timers.add(timer);
          return;
        }
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    port,
    submits,
    unbinds,
    async stop() {
      for (const timer of timers) clearTimeout(timer);
      for (const session of sessions) session.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

interface Bridge {
  child: ChildProcess;
  port: number;
  lines: LogLine[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** The built CLI as a child process, its JSON log lines collected; resolves once it says it started. */
function startBridge(config: string): Promise<Bridge> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, 'start', '--config', config], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const lines: LogLine[] = [];
    let partial = '';
    let stderr = '';
    const exited = once(child, 'exit').then(([code, signal]) => ({
      code: code as number | null,
      signal: signal as NodeJS.Signals | null,
    }));
    child.stdout?.on('data', (chunk: Buffer) => {
      partial += chunk.toString();
      const complete = partial.split('\n');
      partial = complete.pop() ?? '';
      for (const text of complete) {
        if (!text.startsWith('{')) continue;
        const line = JSON.parse(text) as LogLine;
        lines.push(line);
        if (line.msg === 'bridge started') {
          resolve({ child, port: Number(line.mqtt_port), lines, exited });
        }
      }
    });
    child.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    void exited.then(({ code }) => reject(new Error(`bridge exited with ${code}: ${stderr}`)));
  });
}

function smsStates(dbPath: string): string[] {
  const db = new Database(dbPath, { readonly: true });
  try {
    return db
      .prepare('SELECT state FROM sms ORDER BY id')
      .all()
      .map((r) => (r as { state: string }).state);
  } finally {
    db.close();
  }
}

describe('graceful shutdown with devices connected (guarantee 7)', () => {
  const cleanup: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn();
  });

  /** A bridge on a slow SMSC, `extra` appended to its config; removed after the test. */
  async function setUp(holdMs: number | undefined, extra: string, responseTimeout = '2s') {
    expect(
      existsSync(CLI),
      'dist/launch.js is built by `npm test` (pretest); run `npm run build` first',
    ).toBe(true);
    const dir = tempDir();
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const smsc = await startSlowSmsc(holdMs);
    cleanup.push(() => smsc.stop());
    const config = writeBridgeConfig(dir, smsc.port, RULES);
    const text = readFileSync(config, 'utf8').replace(
      'response_timeout: 2s',
      `response_timeout: ${responseTimeout}`,
    );
    writeFileSync(config, `${text}${extra}`);
    const bridge = await startBridge(config);
    cleanup.push(() => {
      bridge.child.kill('SIGKILL');
    });
    const clients: MqttClient[] = [];
    cleanup.push(() => Promise.all(clients.map((c) => c.endAsync(true))).then(() => undefined));
    const connect = async () => {
      const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${bridge.port}`, { reconnectPeriod: 0 });
      client.on('error', () => undefined);
      clients.push(client);
      return client;
    };
    return { dir, smsc, bridge, connect, dbPath: join(dir, 'bridge.db') };
  }

  it('SIGTERM with 100 idle clients and an SMS in flight: drains it, says offline, unbinds, exits 0', async () => {
    // submit_sm_resp comes 1 s after the submit: the SIGTERM lands while the SMS is in flight
    const { smsc, bridge, connect, dbPath } = await setUp(1000, 'shutdown_timeout: 20s\n');
    const idle = await Promise.all(Array.from({ length: 100 }, () => connect()));
    const closed = idle.map((c) => new Promise<void>((resolve) => c.once('close', () => resolve())));
    const watcher = await connect();
    // what a subscriber hears, in order: the SMS's states and the bridge's
    const heard: string[] = [];
    watcher.on('message', (topic, payload) => {
      const text = payload.toString();
      heard.push(topic === 'sms-bridge/state' ? text : `sms ${JSON.parse(text).state}`);
    });
    await watcher.subscribeAsync(['sms-bridge/state', 'sms-bridge/sms/outbound/+'], { qos: 1 });
    await waitFor(() => heard.includes('online'), 'retained online');

    const device = await connect();
    await device.publishAsync('devices/pump-7/alerts/hot', JSON.stringify({ n: 1 }), { qos: 1 });
    await waitFor(() => smsc.submits.length === 1, 'the submit_sm at the SMSC');
    bridge.child.kill('SIGTERM');

    const { code } = await bridge.exited;
    expect(code).toBe(0);
    // drained before the clients were let go: the subscriber heard the SMS accepted, then offline
    expect(heard).toEqual(['online', 'sms queued', 'sms submitted', 'offline']);
    await Promise.all(closed); // every idle client was disconnected, none left hanging
    expect(smsc.unbinds).toEqual(['unbind']);
    // the SMS in flight was answered before the unbind and recorded before the store closed
    expect(smsStates(dbPath)).toEqual(['submitted']);
    expect(bridge.lines.map((l) => l.msg)).toContain('stopped');
  }, 60_000);

  it('past shutdown_timeout: logs the step still running, exits 1, and the SMS is still in the store', async () => {
    // never answered, and the link would wait 30 s for it: only the deadline ends this shutdown
    const { smsc, bridge, connect, dbPath } = await setUp(undefined, 'shutdown_timeout: 500ms\n', '30s');
    const device = await connect();
    await device.publishAsync('devices/pump-7/alerts/hot', JSON.stringify({ n: 1 }), { qos: 1 });
    await waitFor(() => smsc.submits.length === 1, 'the submit_sm at the SMSC');
    bridge.child.kill('SIGTERM');

    const { code } = await bridge.exited;
    expect(code).toBe(1);
    const timeout = bridge.lines.find((l) => l.code === 'ERR_SHUTDOWN_TIMEOUT');
    expect(timeout?.still_running).toEqual(['sender']);
    // not sent as far as the store knows, so it goes out again after the restart
    expect(smsStates(dbPath)).toEqual(['queued']);
  }, 60_000);

  it.each([
    ['SIGTERM', 143],
    ['SIGINT', 130],
  ] as const)(
    'a second signal (%s) exits at once while the first shutdown is stuck',
    async (second, exitCode) => {
      const { smsc, bridge, connect } = await setUp(
        undefined,
        'shutdown_timeout: 60s\nlog: { level: debug }\n',
        '60s',
      );
      const device = await connect();
      await device.publishAsync('devices/pump-7/alerts/hot', JSON.stringify({ n: 1 }), { qos: 1 });
      await waitFor(() => smsc.submits.length === 1, 'the submit_sm at the SMSC');
      bridge.child.kill('SIGTERM');
      await waitFor(
        () => bridge.lines.some((l) => l.step === 'sender'),
        'the shutdown waiting for the submit',
      );
      bridge.child.kill(second);

      // the stuck step would last 60 s; the test's own timeout (20 s) fails it if the signal is ignored
      const { code } = await bridge.exited;
      expect(code).toBe(exitCode);
      const line = bridge.lines.find((l) => l.msg === 'second signal: exiting now');
      expect(line?.still_running).toEqual(['sender']);
    },
    20_000,
  );

  it('stops intake and SMPP inbound first: the publish in flight is committed and acked, a later one is not, a deliver_sm is told to retry', async () => {
    let store: FaultyStore | undefined;
    const h = await startHarness({
      store: (path) => {
        store = slowStore(path);
        return store;
      },
    });
    cleanup.push(() => h.close());
    await waitFor(() => h.app.links[0]!.bound, 'bound');
    const device = await h.connect();
    const other = await h.connect();
    const acked: number[] = [];
    const publish = (client: MqttClient, temp: number) =>
      client.publish('devices/pump-7/alerts/overheat', JSON.stringify({ temp }), { qos: 1 }, (err) => {
        if (!err) acked.push(temp);
      });
    publish(device, 99);
    await waitFor(() => store!.calls.get('outbox.enqueue') === 1, 'the first publish in intake');

    const stopping = h.app.stop();
    publish(other, 98);
    const moStatus = await h.sim.injectMo({ from: '447700900002', to: 'BRIDGE', text: 'STATUS PUMP-7' });
    await stopping;

    expect(moStatus).toBe(ESME_RX_T_APPN);
    // the one in flight got its PUBACK before the clients were closed; the later one none
    expect(acked).toEqual([99]);
    expect(store!.calls.get('outbox.enqueue')).toBe(1);
    const db = new Database(h.dbPath, { readonly: true });
    try {
      expect(db.prepare('SELECT text FROM sms').all()).toEqual([{ text: 'pump-7 overheating: 99C' }]);
      expect(db.prepare('SELECT COUNT(*) AS n FROM inbound_sms').get()).toEqual({ n: 0 });
    } finally {
      db.close();
    }
  });
});
