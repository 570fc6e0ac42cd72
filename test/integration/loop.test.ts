import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { FaultyStore } from '../helpers/faulty-store.js';
import { type Harness, startHarness, waitFor } from '../helpers/harness.js';

/** A real SQLite store whose transactions start 300 ms late: wide enough to see a PUBACK that does not wait. */
const slowStore = (path: string) =>
  new FaultyStore(new SqliteStore({ path }), [{ op: 'transaction', nth: 'all', kind: 'delay', ms: 300 }]);

describe('device alert over MQTT -> rule -> outbox -> SMS over SMPP', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  it('delivers a QoS 1 alert to the SMSC as a GSM submit_sm with the rendered text', async () => {
    h = await startHarness();
    const sim = h.sim;
    const device = await h.connect();
    await device.publishAsync('devices/pump-7/alerts/overheat', JSON.stringify({ temp: 95 }), { qos: 1 });
    const sms = await waitFor(() => sim.received[0], 'submit_sm at the SMSC');
    expect(sms.to).toBe('+447700900001');
    expect(sms.text).toBe('pump-7 overheating: 95C');
    expect(sms.dataCoding).toBe(0);
    expect(sms.priorityFlag).toBeGreaterThan(0);
    const stored = await waitFor(async () => {
      const [row] = await h!.app.store.listSms();
      return row?.state === 'submitted' ? row : undefined;
    }, 'SMS marked submitted');
    expect(stored.connectionId).toBe('main');
  });

  it('sends text outside GSM 03.38 as UCS2 (data_coding 8)', async () => {
    h = await startHarness();
    const sim = h.sim;
    const device = await h.connect();
    await device.publishAsync('devices/pump-9/alerts/greek', '42', { qos: 1 });
    const sms = await waitFor(() => sim.received[0], 'submit_sm at the SMSC');
    expect(sms.dataCoding).toBe(8);
    expect(sms.text).toBe('Θερμοκρασία 42');
    expect(sms.to).toBe('+447700900002');
  });

  it('commits the SMS before the device gets its PUBACK (guarantee 1)', async () => {
    h = await startHarness({ store: slowStore });
    const device = await h.connect();
    const reader = new Database(h.dbPath, { readonly: true });
    try {
      await device.publishAsync('devices/pump-7/alerts/overheat', JSON.stringify({ temp: 99 }), { qos: 1 });
      // The PUBACK has arrived: the row must already be committed, seen from another connection.
      const rows = reader.prepare('SELECT to_number, text FROM sms').all();
      expect(rows).toEqual([{ to_number: '+447700900001', text: 'pump-7 overheating: 99C' }]);
    } finally {
      reader.close();
    }
  });

  it('does not send when the condition is false, the topic is unknown or the payload is garbage', async () => {
    h = await startHarness();
    const device = await h.connect();
    await device.publishAsync('devices/pump-7/alerts/overheat', JSON.stringify({ temp: 50 }), { qos: 1 });
    await device.publishAsync('devices/pump-7/alerts/overheat', '{not json', { qos: 1 });
    await device.publishAsync('devices/pump-7/alerts/overheat', Buffer.from([0xff, 0x00, 0xfe]), { qos: 1 });
    await device.publishAsync('nobody/listens/here', 'x', { qos: 1 });
    // The process is up and the next good alert still goes through.
    await device.publishAsync('devices/pump-7/alerts/overheat', JSON.stringify({ temp: 91 }), { qos: 1 });
    const sim = h.sim;
    const sms = await waitFor(() => sim.received[0], 'submit_sm at the SMSC');
    expect(sms.text).toBe('pump-7 overheating: 91C');
    const stored = await waitFor(async () => {
      const rows = await h!.app.store.listSms();
      return rows.every((r) => r.state === 'submitted') ? rows : undefined;
    }, 'SMS submitted');
    expect(stored.length).toBe(1);
  });

  it('does not flood by default: a rule without cooldown sends one SMS for 50 repeats (guarantee 3)', async () => {
    h = await startHarness();
    const device = await h.connect();
    for (let i = 0; i < 50; i++) {
      await device.publishAsync('devices/pump-7/alerts/overheat', JSON.stringify({ temp: 100 + i }), {
        qos: 1,
      });
    }
    const sim = h.sim;
    await waitFor(() => sim.received.length === 1, 'one SMS');
    await new Promise((r) => setTimeout(r, 300));
    expect(sim.received.map((s) => s.text)).toEqual(['pump-7 overheating: 100C']);
  });

  it('keeps a queued SMS while the SMSC is away and sends it when it comes back', async () => {
    h = await startHarness();
    const { sim, smscPort } = h;
    await sim.stop();
    await waitFor(() => !h!.app.links[0]!.bound, 'link notices the SMSC is gone');
    const device = await h.connect();
    await device.publishAsync('devices/pump-7/alerts/overheat', JSON.stringify({ temp: 120 }), { qos: 1 });
    expect(await h.app.store.countByState()).toMatchObject({ queued: 1 });
    await sim.start({ host: '127.0.0.1', port: smscPort });
    const sms = await waitFor(() => sim.received[0], 'submit_sm after the SMSC is back', 8000);
    expect(sms.text).toBe('pump-7 overheating: 120C');
  });

  it('survives garbage bytes from the SMSC: the link is rebuilt and the next SMS goes out', async () => {
    h = await startHarness();
    const sim = h.sim;
    await waitFor(() => h!.app.links[0]!.bound, 'bound');
    sim.injectRaw(Buffer.from('this is not an SMPP PDU at all, just garbage bytes'));
    const device = await h.connect();
    await device.publishAsync('devices/pump-7/alerts/overheat', JSON.stringify({ temp: 101 }), { qos: 1 });
    const sms = await waitFor(() => sim.received[0], 'submit_sm after garbage', 8000);
    expect(sms.text).toBe('pump-7 overheating: 101C');
  });

  it('tracks the delivery receipt to the delivered state and publishes each state', async () => {
    h = await startHarness({ sim: { receipts: true, receiptDelayMs: 10 } });
    const device = await h.connect();
    const states: string[] = [];
    await device.subscribeAsync('sms-bridge/sms/outbound/+', { qos: 1 });
    device.on('message', (_topic, payload) => states.push(JSON.parse(payload.toString()).state));
    await device.publishAsync('devices/pump-7/alerts/overheat', JSON.stringify({ temp: 95 }), { qos: 1 });
    await waitFor(() => states.includes('delivered'), 'delivered state event');
    expect(states).toEqual(['queued', 'submitted', 'delivered']);
    const [sms] = await h.app.store.listSms();
    expect(sms?.state).toBe('delivered');
  });
});
