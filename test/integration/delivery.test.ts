import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/logger.js';
import { SmscSimulator } from '../../src/simulator/smsc.js';
import { type Harness, startHarness, waitFor } from '../helpers/harness.js';

const LONG_RULES = `
contacts:
  alice: { phone: "+447700900001" }
  dave: { phone: "+447700900009" }
rules:
  - id: echo
    topic: devices/+/say
    to: [alice]
    text: "{{payload}}"
    cooldown: 0s
  - id: quiet
    topic: devices/+/no-receipt
    to: [alice]
    text: "{{payload}}"
    cooldown: 0s
    registered_delivery: false
  - id: echo-dave
    topic: devices/+/say-dave
    to: [dave]
    text: "{{payload}}"
    cooldown: 0s
  - id: seq
    topic: devices/+/seq
    to: [alice]
    text: "seq {{payload.seq}}"
    cooldown: 0s
    priority: low
  - id: urgent
    topic: devices/+/urgent
    to: [alice]
    text: "URGENT {{payload.seq}}"
    cooldown: 0s
    priority: critical
`;

describe('delivery engine', () => {
  let h: Harness | undefined;
  const extra: SmscSimulator[] = [];
  afterEach(async () => {
    await h?.close();
    h = undefined;
    await Promise.all(extra.splice(0).map((s) => s.stop()));
  });

  it('splits a long UCS2 text into UDH parts and marks it delivered when every part has its receipt', async () => {
    h = await startHarness({
      rules: LONG_RULES,
      sim: { receipts: true, receiptDelayMs: 5, receiptIdBase: 'decimal' },
    });
    const sim = h.sim;
    const text = `Насос 7: ${'перегрев '.repeat(15)}`.trim(); // 144 UCS2 units -> 3 parts of <= 67
    const device = await h.connect();
    await device.publishAsync('devices/pump-7/say', text, { qos: 1 });
    await waitFor(() => sim.received.length === 3, 'three parts at the SMSC');
    const parts = sim.received.map((p) => p.part);
    expect(parts).toEqual([
      { seq: 1, total: 3 },
      { seq: 2, total: 3 },
      { seq: 3, total: 3 },
    ]);
    expect(sim.received.every((p) => p.dataCoding === 8 && (p.esmClass & 0x40) === 0x40)).toBe(true);
    expect(sim.received.map((p) => p.text).join('')).toBe(text);
    // receipts quote the ids in decimal while submit_sm_resp gave hex: they must still match
    const sms = await waitFor(async () => {
      const [row] = await h!.app.store.listSms();
      return row?.state === 'delivered' ? row : undefined;
    }, 'delivered after all three receipts');
    expect(sms.partsTotal).toBe(3);
    expect(sms.partsDelivered).toBe(3);
  });

  it('sends long text whole in message_payload on a connection that asks for it', async () => {
    h = await startHarness({ rules: LONG_RULES, connectionYaml: '      long_text: message_payload' });
    const text = `Pump 7 report: ${'all values nominal; '.repeat(20)}`.trim();
    const device = await h.connect();
    await device.publishAsync('devices/pump-7/say', text, { qos: 1 });
    const sim = h.sim;
    const sms = await waitFor(() => sim.received[0], 'one submit_sm');
    expect(sms.messagePayload).toBeDefined();
    expect(sms.text).toBe(text);
    await new Promise((r) => setTimeout(r, 100));
    expect(sim.received).toHaveLength(1);
  });

  it('uses 16-bit concatenation references on a connection set to udh16', async () => {
    h = await startHarness({ rules: LONG_RULES, connectionYaml: '      long_text: udh16' });
    const device = await h.connect();
    await device.publishAsync('devices/pump-7/say', 'w'.repeat(200), { qos: 1 });
    const sim = h.sim;
    await waitFor(() => sim.received.length === 2, 'two parts');
    expect(sim.received.map((s) => s.udh?.[1])).toEqual([0x08, 0x08]);
  });

  it('routes by destination prefix', async () => {
    const france = new SmscSimulator({ receipts: false, logger: silentLogger() });
    extra.push(france);
    const { port } = await france.start({ host: '127.0.0.1', port: 0 });
    h = await startHarness({
      rules: `${LONG_RULES}
  - id: to-paris
    topic: devices/+/paris
    to: [pierre]
    text: "{{payload}}"
    cooldown: 0s
`.replace('contacts:\n', 'contacts:\n  pierre: { phone: "+33612345678" }\n'),
      connectionYaml: `    - id: france
      url: "smpp://127.0.0.1:${port}"
      system_id: bridge
      routes: ["33"]
      reconnect: { initial: 50ms, max: 500ms }`,
    });
    await waitFor(() => h!.app.links.every((l) => l.bound), 'both bound');
    const device = await h.connect();
    await device.publishAsync('devices/pump-7/paris', 'bonjour', { qos: 1 });
    await device.publishAsync('devices/pump-7/say', 'hello', { qos: 1 });
    await waitFor(() => france.received.length === 1 && h!.sim.received.length === 1, 'one each');
    expect(france.received[0]).toMatchObject({ to: '+33612345678', text: 'bonjour' });
    expect(h.sim.received[0]).toMatchObject({ to: '+447700900001', text: 'hello' });
  });

  it('asks for a receipt per the connection unless the rule says otherwise', async () => {
    h = await startHarness({ rules: LONG_RULES });
    const device = await h.connect();
    await device.publishAsync('devices/pump-7/say', 'with receipt', { qos: 1 });
    await device.publishAsync('devices/pump-7/no-receipt', 'without receipt', { qos: 1 });
    const sim = h.sim;
    await waitFor(() => sim.received.length === 2, 'both SMS');
    const flags = Object.fromEntries(sim.received.map((s) => [s.text, s.registeredDelivery]));
    expect(flags).toEqual({ 'with receipt': 1, 'without receipt': 0 });
  });

  it('binds with the configured addr_ton, addr_npi and address_range', async () => {
    h = await startHarness({
      rules: LONG_RULES,
      connectionYaml: '      addr_ton: 1\n      addr_npi: 1\n      address_range: "^4477"',
    });
    const sim = h.sim;
    await waitFor(() => h!.app.links[0]!.bound, 'bound');
    expect(sim.binds.at(-1)).toMatchObject({
      addrTon: 1,
      addrNpi: 1,
      addressRange: '^4477',
      interfaceVersion: 0x34,
    });
  });

  it('fails an SMS the SMSC rejects permanently, with the code and its name', async () => {
    h = await startHarness({ rules: LONG_RULES, sim: { failDestinations: { '+447700900009': 0x0b } } });
    const device = await h.connect();
    await device.publishAsync('devices/pump-7/say-dave', 'hello', { qos: 1 });
    const sms = await waitFor(async () => {
      const [row] = await h!.app.store.listSms();
      return row?.state === 'failed' ? row : undefined;
    }, 'failed');
    expect(sms.errorCode).toBe(0x0b);
    expect(sms.error).toMatch(/ESME_RINVDSTADR/);
    expect(h.sim.received).toHaveLength(0);
  });

  it('backs off on ESME_RTHROTTLED and still sends everything, without a hot retry loop', async () => {
    h = await startHarness({ rules: LONG_RULES, sim: { tps: 20 }, connectionYaml: '      tps: 200' });
    const device = await h.connect();
    const n = 60;
    await Promise.all(
      Array.from({ length: n }, (_, i) =>
        device.publishAsync('devices/pump-7/seq', JSON.stringify({ seq: i }), { qos: 1 }),
      ),
    );
    const sim = h.sim;
    await waitFor(() => sim.received.length >= n, 'every SMS accepted', 15_000);
    expect(sim.throttledAnswers).toBeGreaterThan(0);
    // each throttling answer pauses the connection for >= 1 s, so they stay few
    expect(sim.throttledAnswers).toBeLessThan(n);
    // order within a lane is kept across resubmits
    expect(sim.received.map((s) => s.text)).toEqual(Array.from({ length: n }, (_, i) => `seq ${i}`));
    expect((await h.app.store.countByState()).failed).toBe(0);
  });

  it('sends a critical alert before a backlog of low ones', async () => {
    h = await startHarness({ rules: LONG_RULES, connectionYaml: '      tps: 20' });
    const device = await h.connect();
    await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        device.publishAsync('devices/pump-7/seq', JSON.stringify({ seq: i }), { qos: 1 }),
      ),
    );
    await device.publishAsync('devices/pump-7/urgent', JSON.stringify({ seq: 1 }), { qos: 1 });
    const sim = h.sim;
    await waitFor(() => sim.received.some((s) => s.text === 'URGENT 1'), 'critical SMS sent');
    const position = sim.received.findIndex((s) => s.text === 'URGENT 1');
    // at 20/s with a burst of 2, the backlog cannot have drained before the critical one overtook it
    expect(position).toBeLessThan(10);
    expect(sim.received.length).toBeLessThan(41);
  });

  it('fails over to the next connection when the first SMSC is down', async () => {
    const backup = new SmscSimulator({ receipts: false, logger: silentLogger() });
    extra.push(backup);
    const { port } = await backup.start({ host: '127.0.0.1', port: 0 });
    h = await startHarness({
      rules: LONG_RULES,
      connectionYaml: `      priority: 0
    - id: backup
      url: "smpp://127.0.0.1:${port}"
      system_id: bridge
      password: secret
      priority: 1
      reconnect: { initial: 50ms, max: 500ms }`,
    });
    await waitFor(() => h!.app.links.every((l) => l.bound), 'both links bound');
    const device = await h.connect();
    await device.publishAsync('devices/pump-7/say', 'via primary', { qos: 1 });
    await waitFor(() => h!.sim.received.length === 1, 'primary used first');
    await h.sim.stop();
    await waitFor(() => !h!.app.links[0]!.bound, 'primary down');
    await device.publishAsync('devices/pump-7/say', 'via backup', { qos: 1 });
    const sms = await waitFor(() => backup.received[0], 'backup used');
    expect(sms.text).toBe('via backup');
  });

  it('ends a session that leaves a submit_sm unanswered and resubmits only after a fresh bind', async () => {
    // the harness sets response_timeout 2s; enquire_link keeps being answered meanwhile
    h = await startHarness({ rules: LONG_RULES });
    const sim = h.sim;
    await waitFor(() => h!.app.links[0]!.bound, 'bound');
    sim.swallowSubmits(1);
    const device = await h.connect();
    await device.publishAsync('devices/pump-7/say', 'answer me', { qos: 1 });
    const sms = await waitFor(
      async () => {
        const [row] = await h!.app.store.listSms();
        return row?.state === 'submitted' ? row : undefined;
      },
      'submitted after the silence',
      8000,
    );
    expect(sms.text).toBe('answer me');
    const copies = sim.received.filter((r) => r.text === 'answer me');
    expect(copies.map((r) => r.answered)).toEqual([false, true]);
    expect(copies[1]!.session).not.toBe(copies[0]!.session);
    // the second session was bound before the resubmit could go on it
    expect(sim.binds.some((b) => b.session === copies[1]!.session && b.commandStatus === 0)).toBe(true);
  });

  it('expires an SMS older than max_age instead of sending it late', async () => {
    h = await startHarness({ rules: LONG_RULES, smppYaml: '  max_age: 300ms' });
    const { sim, smscPort } = h;
    await sim.stop();
    await waitFor(() => !h!.app.links[0]!.bound, 'link down');
    const device = await h.connect();
    await device.publishAsync('devices/pump-7/say', 'too late', { qos: 1 });
    await new Promise((r) => setTimeout(r, 400));
    await sim.start({ host: '127.0.0.1', port: smscPort });
    const sms = await waitFor(
      async () => {
        const [row] = await h!.app.store.listSms();
        return row?.state === 'expired' ? row : undefined;
      },
      'expired',
      8000,
    );
    expect(sms.error).toMatch(/max_age/);
    expect(sim.received).toHaveLength(0);
  });

  it('detects a silent half-open SMSC by the enquire_link timeout and sends once it answers again', async () => {
    // the harness sets enquire_link_interval 1s and response_timeout 2s
    h = await startHarness({ rules: LONG_RULES });
    const sim = h.sim;
    await waitFor(() => h!.app.links[0]!.bound, 'bound');
    const bindsBefore = sim.binds.length;
    sim.setBehaviour('blackhole');
    const device = await h.connect();
    await device.publishAsync('devices/pump-7/say', 'after the silence', { qos: 1 });
    await waitFor(() => !h!.app.links[0]!.bound, 'dead link detected', 5000);
    sim.setBehaviour('normal');
    const sms = await waitFor(
      () => sim.received.find((s) => s.text === 'after the silence'),
      'SMS sent after rebind',
      8000,
    );
    expect(sms).toBeDefined();
    expect(sim.binds.length).toBeGreaterThan(bindsBefore);
  });
});
