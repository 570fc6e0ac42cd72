import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AlertEngine } from '../../../src/alerts/alert-engine.js';
import { Recipients } from '../../../src/alerts/types.js';
import { BridgeError } from '../../../src/errors.js';
import type { AlertEvent } from '../../../src/events.js';
import { Events } from '../../../src/events.js';
import { silentLogger } from '../../../src/logger.js';
import { compileRules } from '../../../src/rules/compile.js';
import type { RuleSet } from '../../../src/rules/engine.js';
import { SqliteStore } from '../../../src/store/sqlite/sqlite-store.js';
import type { SmsRecord, Store } from '../../../src/store/store.js';

const RULES = `
contacts:
  alice: { phone: "+447700900001", name: Alice }
  bob: { phone: "+447700900002", name: Bob }
groups:
  field: [alice, bob]
rules:
  - id: overheat
    topic: devices/+/overheat
    when: temp > 90
    to: [field]
    text: "{{device.id}} hot {{payload.temp}}C. ACK {{alert.ref}}"
    resolve_topic: devices/+/overheat/clear
`;

setFlagsFromString('--expose_gc');
const gc = runInNewContext('gc') as () => void;
const turn = () => new Promise((r) => setImmediate(r));

describe('a decision waiting for its commit (issue 14)', () => {
  let store: SqliteStore;
  let rules: RuleSet;
  let engine: AlertEngine;
  let sms: SmsRecord[];
  let alerts: AlertEvent[];
  /** the store, with each commit's answer held until `release` (as a slow fsync would) */
  let written = 0;
  let release: () => void;
  let held: Promise<void>;

  beforeEach(async () => {
    store = new SqliteStore({ path: ':memory:' });
    await store.start();
    rules = compileRules([{ file: 'r.yaml', text: RULES }]);
    sms = [];
    alerts = [];
    written = 0;
    held = new Promise((r) => {
      release = r;
    });
    const slow: Store = Object.create(store);
    slow.transaction = (fn) =>
      store
        .transaction(async (tx) => {
          const out = await fn(tx);
          written++;
          return out;
        })
        .then(async (out) => {
          await held;
          return out;
        });
    const events = new Events(silentLogger());
    events.on('sms.status', (s) => sms.push(s));
    events.on('alert.changed', (a) => alerts.push(a));
    engine = new AlertEngine({
      rules: () => rules,
      store: slow,
      events,
      maxAgeMs: () => 3_600_000,
      logger: silentLogger(),
    });
    await engine.start();
  });
  afterEach(async () => {
    release();
    await engine.stop();
    await store.stop();
  });

  /** Not async: nothing of the evaluation stays in a suspended frame here. */
  const fire = (topic: string, payload: object) => {
    const buf = Buffer.from(JSON.stringify(payload));
    const now = new Date();
    const { matches } = rules.evaluate(topic, buf, { now });
    // a clear matches no rule: nothing to watch
    const match = matches[0] ? new WeakRef(matches[0]) : undefined;
    const decided = engine.process(matches, rules.resolutions(topic, buf, { now }), now);
    return { decided, match };
  };

  it('keeps nothing of the message once written, and announces the alert and its SMS after the commit', async () => {
    const { decided, match } = fire('devices/pump-7/overheat', { temp: 95 });
    while (written === 0) await turn();
    await turn();
    gc();
    // written, not answered: the match (its rule, parsed payload and text) is garbage already
    expect(match?.deref()).toBeUndefined();
    expect(match).toBeDefined();
    expect(sms).toEqual([]);
    expect(alerts).toEqual([]);
    release();
    const records = await decided;
    expect(records.map((r) => `${r.to}:${r.text}`)).toEqual([
      '+447700900001:pump-7 hot 95C. ACK 1',
      '+447700900002:pump-7 hot 95C. ACK 1',
    ]);
    expect(sms.map((s) => s.id)).toEqual(records.map((r) => r.id));
    expect(alerts).toEqual([
      expect.objectContaining({ ref: '1', state: 'open', device: 'pump-7', count: 1 }),
    ]);
  });

  it("gives each alert SMS its rule as its source, and the alert's device and ref", async () => {
    release();
    const first = await fire('devices/pump-7/overheat', { temp: 95 }).decided;
    const second = await fire('devices/pump-8/overheat', { temp: 99 }).decided;
    expect([...first, ...second].map((r) => [r.source, r.ruleId, r.deviceId, r.alertRef])).toEqual([
      ['rule:overheat', 'overheat', 'pump-7', '1'],
      ['rule:overheat', 'overheat', 'pump-7', '1'],
      ['rule:overheat', 'overheat', 'pump-8', '2'],
      ['rule:overheat', 'overheat', 'pump-8', '2'],
    ]);
  });

  it('decides a device message again when its first write lost to another writer (a conflict)', async () => {
    release();
    const events = new Events(silentLogger());
    const told: SmsRecord[] = [];
    events.on('sms.status', (s) => told.push(s));
    // the store's documented answer when an alert row is not at the version decided on: the whole write fails
    let conflicts = 1;
    const racing: Store = Object.create(store);
    racing.transaction = (fn) =>
      store.transaction((tx) => {
        if (conflicts === 0) return fn(tx);
        conflicts--;
        const alerts = Object.create(tx.alerts);
        alerts.save = () =>
          Promise.reject(new BridgeError('ERR_STORE_CONFLICT', 'the alert is not at that version'));
        return fn({ ...tx, alerts });
      });
    const other = new AlertEngine({
      rules: () => rules,
      store: racing,
      events,
      maxAgeMs: () => 3_600_000,
      logger: silentLogger(),
    });
    await other.start();
    try {
      const buf = Buffer.from('{"temp":95}');
      const now = new Date();
      const topic = 'devices/pump-9/overheat';
      const records = await other.process(
        rules.evaluate(topic, buf, { now }).matches,
        rules.resolutions(topic, buf, { now }),
        now,
      );
      expect(conflicts).toBe(0);
      expect(records.map((r) => r.text)).toEqual(['pump-9 hot 95C. ACK 1', 'pump-9 hot 95C. ACK 1']);
      expect(told.map((r) => r.id)).toEqual(records.map((r) => r.id));
      expect(other.live().map((a) => [a.deviceId, a.count])).toEqual([['pump-9', 1]]);
    } finally {
      await other.stop();
    }
  });

  it('tells apart the alerts of one rule on two devices, and resolves only the one cleared', async () => {
    release();
    await fire('devices/pump-7/overheat', { temp: 95 }).decided;
    await fire('devices/pump-8/overheat', { temp: 96 }).decided;
    await fire('devices/pump-7/overheat', { temp: 97 }).decided;
    expect(engine.live().map((a) => [a.deviceId, a.ref, a.count])).toEqual([
      ['pump-7', '1', 2],
      ['pump-8', '2', 1],
    ]);
    await fire('devices/pump-8/overheat/clear', {}).decided;
    expect(engine.live().map((a) => a.deviceId)).toEqual(['pump-7']);
    expect(alerts.at(-1)).toMatchObject({ ref: '2', device: 'pump-8', state: 'resolved' });
  });
});

describe('Recipients', () => {
  const r = (phone: string, name: string) => ({
    phone,
    contactId: undefined,
    name,
    step: 0,
    smsId: null,
    smsState: null,
    toldAt: null,
  });

  it('keeps one recipient per phone, in the order first added; a replacement keeps its place', () => {
    const list = new Recipients([r('+1', 'a'), r('+2', 'b')]);
    list.set(r('+3', 'c'));
    list.set(r('+1', 'A'));
    list.set(r('+2', 'B'));
    expect(list.size).toBe(3);
    expect([...list.values()].map((x) => `${x.phone}${x.name}`)).toEqual(['+1A', '+2B', '+3c']);
    expect(list.get('+2')?.name).toBe('B');
    expect(list.has('+3')).toBe(true);
    expect(list.has('+4')).toBe(false);
    expect(new Recipients().size).toBe(0);
    expect([...new Recipients().values()]).toEqual([]);
    expect(new Recipients().get('+1')).toBeUndefined();
  });
});
