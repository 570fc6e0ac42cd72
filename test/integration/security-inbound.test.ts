import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { MqttClient } from 'mqtt';
import type smpp from 'smpp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../../src/devices/password.js';
import { type Harness, startHarness, waitFor } from '../helpers/harness.js';

// Issue 11, SMS and rules side: each test is an attack that worked before the hardening.

const RULES = `
contacts:
  alice: { phone: "+447700900001" }
  bob: { phone: "+447700900002" }
  carol: { phone: "+447700900003", pin: "4321" }
  dave: { phone: "+447700900004" }
  erin: { phone: "+447700900005" }
groups:
  north-field: [alice, bob, carol, dave, erin]
rules: []
`;
const ALICE = '+447700900001';
const BOB = '+447700900002';
const CAROL = '+447700900003';
const DAVE = '+447700900004';
const ERIN = '+447700900005';
const STRANGER = '+447700900777';

let devicesYaml = '';
beforeAll(async () => {
  const [h7, h9] = await Promise.all([hashPassword('pump7-secret'), hashPassword('pump9-secret')]);
  devicesYaml = `
type: pump
commands:
  stop: { payload: { action: stop } }
  setpoint:
    args: [{ name: value, type: number, min: 0, max: 120 }]
    payload: { action: setpoint, value: "{{args.value}}" }
devices:
  - { id: pump-7, password_hash: "${h7}", operators: [north-field] }
  - { id: pump-9, password_hash: "${h9}", operators: [north-field] }
`;
});

const settle = () => new Promise((r) => setTimeout(r, 300));

function rows<T>(h: Harness, sql: string, ...params: unknown[]): T[] {
  const db = new Database(h.dbPath, { readonly: true });
  try {
    return db.prepare(sql).all(...params) as T[];
  } finally {
    db.close();
  }
}

/** A deliver_sm's octets up to `cut` fields, answered by the bridge; resolves with its command_status. */
function rawDeliver(h: Harness, body: Buffer, sequence: number): Promise<number> {
  const header = Buffer.alloc(16);
  header.writeUInt32BE(16 + body.length, 0);
  header.writeUInt32BE(0x00000005, 4); // deliver_sm
  header.writeUInt32BE(0, 8);
  header.writeUInt32BE(sequence, 12);
  return new Promise((resolve) => {
    const onPdu = (pdu: smpp.AnyPdu) => {
      if (pdu.command === 'deliver_sm_resp' && pdu.sequence_number === sequence) {
        h.sim.off('pdu', onPdu);
        resolve(pdu.command_status);
      }
    };
    h.sim.on('pdu', onPdu);
    h.sim.injectRaw(Buffer.concat([header, body]));
  });
}

describe('SMS side hardening', () => {
  let h: Harness;
  let pump7: MqttClient;
  let pump9: MqttClient;
  const commands: Array<{ device: string; body: Record<string, unknown> }> = [];
  const events: Array<Record<string, unknown>> = [];
  const smsTo = (phone: string) => h.sim.received.filter((s) => s.to === phone).map((s) => s.text);

  beforeAll(async () => {
    h = await startHarness({
      rules: RULES,
      devicesYaml,
      allowAnonymous: false,
      smppYaml: 'inbound: { replies: { per_number: 100, total: 1000 } }',
    });
    pump7 = await h.connect({ clientId: 'pump-7', username: 'pump-7', password: 'pump7-secret' });
    pump9 = await h.connect({ clientId: 'pump-9', username: 'pump-9', password: 'pump9-secret' });
    for (const [client, id] of [
      [pump7, 'pump-7'],
      [pump9, 'pump-9'],
    ] as const) {
      await client.subscribeAsync(`devices/${id}/commands`, { qos: 1 });
      client.on('message', (_t, p) => commands.push({ device: id, body: JSON.parse(p.toString()) }));
    }
    await h.app.broker.subscribe('sms-bridge/sms/inbound', (m) =>
      events.push(JSON.parse(m.payload.toString())),
    );
    await waitFor(() => h.app.links[0]!.bound, 'bound');
  });
  afterAll(async () => h.close());

  it('attack 3: a result on another device topic is not relayed, and the real one still is', async () => {
    await h.sim.injectMo({ from: ALICE, to: 'BRIDGE', text: 'pump-9 stop' });
    const cmd = await waitFor(() => commands.find((c) => c.device === 'pump-9'), 'command at pump-9');
    const requestId = cmd.body.request_id;
    await pump7.publishAsync(
      'devices/pump-7/commands/result',
      JSON.stringify({ request_id: requestId, ok: true, message: 'FORGED by pump-7' }),
      { qos: 1 },
    );
    await settle();
    expect(smsTo(ALICE).filter((t) => /FORGED/.test(t))).toEqual([]);
    await pump9.publishAsync(
      'devices/pump-9/commands/result',
      JSON.stringify({ request_id: requestId, ok: true, message: 'stopped' }),
      { qos: 1 },
    );
    await waitFor(() => smsTo(ALICE).includes('PUMP-9 STOP done: stopped'), 'the real result');
  });

  it('attack 6: wrong PINs lock the number (the right PIN is then refused) and PINs are never shown', async () => {
    commands.length = 0;
    for (let i = 0; i < 5; i++) {
      await h.sim.injectMo({ from: CAROL, to: 'BRIDGE', text: `PIN ${1000 + i} pump-7 stop` });
    }
    await h.sim.injectMo({ from: CAROL, to: 'BRIDGE', text: 'PIN 4321 pump-7 stop' });
    await settle();
    expect(commands).toEqual([]);
    const replies = smsTo(CAROL);
    expect(replies[0]).toMatch(/Wrong PIN.*4 more wrong PINs lock this number for 15 min/);
    expect(replies[4]).toMatch(/now refused for 15 min/);
    expect(replies.at(-1)).toMatch(/Too many wrong PINs/);
    const audit = rows<{ text: string }>(h, 'SELECT text FROM inbound_sms WHERE from_number = ?', CAROL);
    expect(audit).toHaveLength(6);
    for (const { text } of audit) expect(text).toMatch(/^PIN \*\*\*\* pump-7 stop$/);
    const published = events.filter((e) => e.from === CAROL).map((e) => e.text);
    expect(published).toHaveLength(6);
    for (const text of published) expect(text).toBe('PIN **** pump-7 stop');
  });

  it.each([
    ['an alphanumeric sender spelling a contact number', 'AL447700900001', {}, 11],
    ['an alphanumeric sender of digits and dashes', '44-7700-900001', {}, 12],
    ['TON 5 digits', '447700900001', { source_addr_ton: 5, source_addr_npi: 0 }, 13],
    ['a national (TON 2) number without default_region', '447700900001', { source_addr_ton: 2 }, 14],
    ['an unknown-TON number without default_region', '447700900001', { source_addr_ton: 0 }, 15],
  ])('attack 7: %s runs nothing and gets no reply', async (_name, from, tlvs, value) => {
    commands.length = 0;
    const before = h.sim.received.length;
    const status = await h.sim.injectMo({
      from,
      to: 'BRIDGE',
      text: `pump-7 setpoint ${value}`,
      tlvs: tlvs as never,
    });
    expect(status).toBe(0);
    await settle();
    expect(commands).toEqual([]);
    expect(h.sim.received.length).toBe(before);
  });

  it('attack 9: HELP and ? from a stranger get no reply', async () => {
    await h.sim.injectMo({ from: STRANGER, to: 'BRIDGE', text: 'HELP' });
    await h.sim.injectMo({ from: STRANGER, to: 'BRIDGE', text: '?' });
    await settle();
    expect(smsTo(STRANGER)).toEqual([]);
  });

  it('attack 10: parts from strangers are not stored; out-of-range and surplus parts neither', async () => {
    commands.length = 0;
    for (let ref = 0; ref < 30; ref++) {
      await h.sim.injectMo({
        from: STRANGER,
        to: 'BRIDGE',
        esmClass: 0x40,
        shortMessage: Buffer.concat([Buffer.from([5, 0, 3, ref, 3, 1]), Buffer.from('pump-7 ')]),
      });
    }
    const sar = (seq: number, text: string) =>
      h.sim.injectMo({
        from: BOB,
        to: 'BRIDGE',
        text,
        tlvs: { sar_msg_ref_num: 77, sar_total_segments: 2, sar_segment_seqnum: seq },
      });
    expect(await sar(7, 'pump-7 ')).toBe(0);
    expect(await sar(9, 'stop')).toBe(0);
    // one sender's incomplete messages are bounded (default 5)
    for (let ref = 100; ref < 120; ref++) {
      await h.sim.injectMo({
        from: DAVE,
        to: 'BRIDGE',
        text: 'pump-7 ',
        tlvs: { sar_msg_ref_num: ref, sar_total_segments: 2, sar_segment_seqnum: 1 },
      });
    }
    await settle();
    expect(commands).toEqual([]);
    const held = rows<{ from_number: string; n: number }>(
      h,
      'SELECT from_number, COUNT(*) AS n FROM mo_part GROUP BY from_number ORDER BY from_number',
    );
    expect(held).toEqual([{ from_number: DAVE, n: 5 }]);
  });

  it('trailing words after a command are refused with the usage, not run', async () => {
    commands.length = 0;
    await h.sim.injectMo({ from: ERIN, to: 'BRIDGE', text: 'pump-7 setpoint 82 xyz' });
    await waitFor(() => smsTo(ERIN).length > 0, 'reply');
    expect(smsTo(ERIN).at(-1)).toBe('PUMP-7 SETPOINT: too many words; send SETPOINT <0-120>');
    expect(commands).toEqual([]);
  });

  it.each([
    // service_type, source TON/NPI/addr, then nothing: every later mandatory field is missing
    ['cut after source_addr', Buffer.from('\u0000\u0001\u0001447700900001\u0000', 'latin1'), 0x7fff0001],
    // sm_length says 50 octets, 5 follow
    [
      'short_message shorter than sm_length',
      Buffer.concat([
        Buffer.from('\u0000\u0001\u0001447700900001\u0000\u0000\u0000BRIDGE\u0000', 'latin1'),
        Buffer.from([0, 0, 0]), // esm_class, protocol_id, priority_flag
        Buffer.from('\u0000\u0000', 'latin1'), // schedule_delivery_time, validity_period
        Buffer.from([0, 0, 0, 0, 50]), // registered_delivery, replace_if_present, data_coding, sm_default_msg_id, sm_length
        Buffer.from('pump-'),
      ]),
      0x7fff0002,
    ],
  ])('a truncated deliver_sm (%s) is answered ESME_RINVCMDLEN', async (_name, body, sequence) => {
    expect(await rawDeliver(h, body, sequence)).toBe(0x02);
  });
});

describe('reply caps and default_region', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({
      rules: RULES,
      devicesYaml,
      allowAnonymous: false,
      smppYaml:
        'inbound: { default_region: GB, replies: { per_number: 10, total: 3, window: 1h } }\nhttp: { enabled: true, host: 127.0.0.1, port: 0 }',
    });
    await waitFor(() => h.app.links[0]!.bound, 'bound');
  });
  afterAll(async () => h.close());

  it('attack 9: replies in total per window are capped, whoever asks', async () => {
    for (const from of [ALICE, BOB, DAVE, ERIN]) await h.sim.injectMo({ from, to: 'BRIDGE', text: 'HELP' });
    await settle();
    expect(h.sim.received).toHaveLength(3);
  });

  it('attack 7: a national number (TON 2) is read with default_region', async () => {
    const client = await h.connect({ clientId: 'pump-7', username: 'pump-7', password: 'pump7-secret' });
    const got: string[] = [];
    await client.subscribeAsync('devices/pump-7/commands', { qos: 1 });
    client.on('message', (_t, p) => got.push(JSON.parse(p.toString()).from));
    await h.sim.injectMo({
      from: '07700900001',
      to: 'BRIDGE',
      text: 'pump-7 stop',
      tlvs: { source_addr_ton: 2 } as never,
    });
    await waitFor(() => got.length === 1, 'command');
    expect(got).toEqual([ALICE]);
  });

  it('a deleted database file is not ready in /readyz', async () => {
    const url = `http://127.0.0.1:${h.app.http!.port}/readyz`;
    expect((await fetch(url)).status).toBe(200);
    for (const suffix of ['', '-wal', '-shm']) rmSync(`${h.dbPath}${suffix}`, { force: true });
    expect(existsSync(h.dbPath)).toBe(false);
    const res = await fetch(url);
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ ready: false, checks: { store: false } });
  });

  it('refuses a 50 MB rules file on reload at once, keeping the rules in force', () => {
    const file = join(h.dir, 'rules.yaml');
    const entry = '  c%: { phone: "+447700900001" }\n';
    const lines: string[] = ['contacts:'];
    let size = 0;
    for (let i = 0; size < 50 * 1024 * 1024; i++) {
      const line = entry.replace('%', String(i));
      lines.push(line);
      size += line.length;
    }
    writeFileSync(file, lines.join(''));
    const outcome = h.app.reloader.reload('test');
    expect(outcome).toMatchObject({ status: 'rejected' });
    expect(JSON.stringify(outcome)).toMatch(/configuration files may be at most 1048576 bytes/);
    expect(h.app.reloader).toBeDefined();
  });
});
