import Database from 'better-sqlite3';
import type { MqttClient } from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../../src/devices/password.js';
import { encodeUcs2 } from '../../src/smpp/encoding.js';
import { type Harness, startHarness, waitFor } from '../helpers/harness.js';

const RULES = `
contacts:
  alice: { phone: "+447700900001", name: Alice }
  bob: { phone: "+447700900002", name: Bob }
  carol: { phone: "+447700900003", pin: "4321" }
  dave: { phone: "+447700900004" }
  erin: { phone: "+447700900005" }
  frank: { phone: "+447700900006" }
groups:
  north-field: [alice, carol, dave, erin, frank]
rules: []
`;

const ALICE = '+447700900001';
const BOB = '+447700900002';
const CAROL = '+447700900003';
const DAVE = '+447700900004';
const ERIN = '+447700900005';
const FRANK = '+447700900006';

let devicesYaml = '';
beforeAll(async () => {
  const hash = await hashPassword('pump7-secret');
  const hash9 = await hashPassword('pump9-secret');
  devicesYaml = `
type: pump
commands:
  stop: { payload: { action: stop } }
  setpoint:
    args: [{ name: value, type: number, min: 0, max: 120 }]
    payload: { action: setpoint, value: "{{args.value}}" }
devices:
  - { id: pump-7, name: North field pump 7, password_hash: "${hash}", operators: [north-field] }
  - { id: pump-9, name: North field pump 9, password_hash: "${hash9}", operators: [north-field] }
`;
});

describe('field staff command devices by SMS', () => {
  let h: Harness;
  let pump: MqttClient;
  const commands: Array<Record<string, unknown>> = [];

  const smsTo = (phone: string) => h.sim.received.filter((s) => s.to === phone).map((s) => s.text);

  beforeAll(async () => {
    h = await startHarness({ rules: RULES, devicesYaml, allowAnonymous: false });
    pump = await h.connect({ clientId: 'pump-7', username: 'pump-7', password: 'pump7-secret' });
    await pump.subscribeAsync('devices/pump-7/commands', { qos: 1 });
    pump.on('message', (_t, payload) => commands.push(JSON.parse(payload.toString())));
    await waitFor(() => h.app.links[0]!.bound, 'bound');
  });
  afterAll(async () => h.close());
  afterEach(() => {
    commands.length = 0;
  });

  it('publishes an authorised command to the device and answers the sender', async () => {
    const status = await h.sim.injectMo({ from: ALICE, to: 'BRIDGE', text: '  Pump-7   setpoint 80. ' });
    expect(status).toBe(0);
    await waitFor(() => commands.length === 1, 'command at the device');
    expect(commands[0]).toMatchObject({
      command: 'setpoint',
      args: { value: 80 },
      payload: { action: 'setpoint', value: 80 },
      from: '+447700900001',
    });
    expect(commands[0]!.request_id).toEqual(expect.any(String));
    await waitFor(() => smsTo(ALICE).some((t) => /PUMP-7 SETPOINT/i.test(t)), 'reply to Alice');
  });

  it('answers deliver_sm only after the SMS is recorded in the audit table (guarantee 4)', async () => {
    const events: Array<Record<string, unknown>> = [];
    await h.app.broker.subscribe('sms-bridge/sms/inbound', (m) =>
      events.push(JSON.parse(m.payload.toString())),
    );
    const status = await h.sim.injectMo({ from: ALICE, to: 'BRIDGE', text: 'HELP' });
    expect(status).toBe(0);
    const db = new Database(h.dbPath, { readonly: true });
    try {
      const row = db.prepare(`SELECT outcome FROM inbound_sms WHERE text = 'HELP'`).get();
      expect(row).toEqual({ outcome: 'help' });
    } finally {
      db.close();
    }
    // and every inbound SMS is published with its outcome
    await waitFor(() => events.length > 0, 'inbound event');
    expect(events[0]).toMatchObject({ from: '+447700900001', text: 'HELP', outcome: 'help' });
  });

  it.each([
    ['a sender who is not an operator', BOB, 'pump-7 stop', /not|allowed|operator/i],
    ['an unknown device', ALICE, 'pump-99 stop', /unknown|no device|not found/i],
    ['an unknown command', ALICE, 'pump-7 explode', /unknown command/i],
    ['an argument out of range', ALICE, 'pump-7 setpoint 500', /0|120|range/i],
    ['a missing PIN', CAROL, 'pump-7 stop', /PIN/i],
  ])('refuses %s with a clear reply and publishes nothing', async (_name, from, text, reply) => {
    const before = smsTo(from).length;
    expect(await h.sim.injectMo({ from, to: 'BRIDGE', text })).toBe(0);
    await waitFor(() => smsTo(from).length > before, 'refusal reply');
    expect(smsTo(from).at(-1)).toMatch(reply);
    expect(commands).toEqual([]);
  });

  it('accepts the command with the right PIN', async () => {
    await h.sim.injectMo({ from: CAROL, to: 'BRIDGE', text: 'PIN 4321 pump-9 stop' });
    const db = new Database(h.dbPath, { readonly: true });
    try {
      const row = db
        .prepare(`SELECT outcome, device_id FROM inbound_sms WHERE from_number = '${CAROL}' ORDER BY id DESC`)
        .get();
      expect(row).toEqual({ outcome: 'command', device_id: 'pump-9' });
    } finally {
      db.close();
    }
  });

  it('does not answer or run anything for an unknown number', async () => {
    expect(await h.sim.injectMo({ from: '447700900777', to: 'BRIDGE', text: 'pump-7 stop' })).toBe(0);
    await new Promise((r) => setTimeout(r, 200));
    expect(smsTo('+447700900777')).toEqual([]);
    expect(commands).toEqual([]);
  });

  it('runs a re-delivered deliver_sm only once', async () => {
    await h.sim.injectMo({ from: ALICE, to: 'BRIDGE', text: 'pump-7 stop' });
    await h.sim.injectMo({ from: ALICE, to: 'BRIDGE', text: 'pump-7 stop' });
    await waitFor(() => commands.length >= 1, 'first command');
    await new Promise((r) => setTimeout(r, 200));
    expect(commands).toHaveLength(1);
  });

  it('runs once when the SMSC delivers the same SMS twice at the same moment', async () => {
    await Promise.all([
      h.sim.injectMo({ from: ALICE, to: 'BRIDGE', text: 'pump-7 setpoint 33' }),
      h.sim.injectMo({ from: ALICE, to: 'BRIDGE', text: 'pump-7 setpoint 33' }),
    ]);
    await waitFor(() => commands.length >= 1, 'first command');
    await new Promise((r) => setTimeout(r, 200));
    expect(commands).toHaveLength(1);
  });

  it('reassembles a 3-part UCS2 MO that arrives out of order', async () => {
    const text = 'pump-9 setpoint 42';
    const body = encodeUcs2(`${text}`);
    // three parts of 12, 12 and 12 octets (6 UTF-16 units each), UDH IEI 0x00, reference 0x5a
    const partsOf = [body.subarray(0, 12), body.subarray(12, 24), body.subarray(24)];
    const pdu = (seq: number) =>
      h.sim.injectMo({
        from: ALICE,
        to: 'BRIDGE',
        esmClass: 0x40,
        dataCoding: 8,
        shortMessage: Buffer.concat([Buffer.from([5, 0, 3, 0x5a, 3, seq]), partsOf[seq - 1]!]),
      });
    const sub = await h.connect({ clientId: 'pump-9-r', username: 'pump-9', password: 'pump9-secret' });
    const got: string[] = [];
    await sub.subscribeAsync('devices/pump-9/commands', { qos: 1 });
    sub.on('message', (_t, p) => got.push(JSON.parse(p.toString()).command));
    expect(await pdu(3)).toBe(0);
    expect(await pdu(1)).toBe(0);
    expect(await pdu(2)).toBe(0);
    await waitFor(() => got.length === 1, 'reassembled command');
    expect(got).toEqual(['setpoint']);
  });

  it('relays the device result to the sender by SMS', async () => {
    await h.sim.injectMo({ from: DAVE, to: 'BRIDGE', text: 'pump-7 setpoint 60' });
    await waitFor(() => commands.length === 1, 'command');
    const before = smsTo(DAVE).length;
    await pump.publishAsync(
      'devices/pump-7/commands/result',
      JSON.stringify({ request_id: commands[0]!.request_id, ok: true, message: 'setpoint now 60' }),
      { qos: 1 },
    );
    await waitFor(
      () =>
        smsTo(DAVE)
          .slice(before)
          .some((t) => /setpoint now 60/.test(t)),
      'result SMS',
    );
  });

  it('answers STATUS with the last telemetry', async () => {
    await pump.publishAsync('devices/pump-7/telemetry', JSON.stringify({ temp: 71, state: 'running' }), {
      qos: 1,
    });
    await new Promise((r) => setTimeout(r, 50));
    await h.sim.injectMo({ from: ERIN, to: 'BRIDGE', text: 'status pump-7' });
    await waitFor(
      () => smsTo(ERIN).some((t) => /temp=71/.test(t) && /state=running/.test(t)),
      'status reply',
    );
  });

  it('limits replies per number so an auto-responder cannot ping-pong with the bridge', async () => {
    for (let i = 0; i < 14; i++) await h.sim.injectMo({ from: FRANK, to: 'BRIDGE', text: `HELP ${i}` });
    await new Promise((r) => setTimeout(r, 300));
    expect(smsTo(FRANK)).toHaveLength(10);
  });

  it('confines a device to its own topics and refuses a wrong password', async () => {
    const other: string[] = [];
    const watcher = await h.connect({ clientId: 'pump-9', username: 'pump-9', password: 'pump9-secret' });
    await watcher.subscribeAsync('devices/pump-9/commands', { qos: 1 });
    watcher.on('message', (t) => other.push(t));
    // SUBACK 0x80 for '#': mqtt.js turns it into an error
    await expect(pump.subscribeAsync('#', { qos: 1 })).rejects.toThrow(/Subscribe error/);
    // a publish outside its own topics is refused (aedes drops the connection of the offender)
    await pump
      .publishAsync('devices/pump-9/commands', '{"command":"stop"}', { qos: 0 })
      .catch(() => undefined);
    await new Promise((r) => setTimeout(r, 200));
    expect(other).toEqual([]);
    const refused = await h.connect({ clientId: 'pump-7b', username: 'pump-7', password: 'wrong' }).then(
      () => undefined,
      (err: Error & { code?: number }) => err,
    );
    expect(refused?.code).toBe(4);
  });
});
