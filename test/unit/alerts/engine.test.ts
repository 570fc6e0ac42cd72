import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { AlertEngine } from '../../../src/alerts/alert-engine.js';
import { Announcer } from '../../../src/announce.js';
import type { Bus } from '../../../src/broker/bus.js';
import { Events } from '../../../src/events.js';
import { silentLogger } from '../../../src/logger.js';
import { compileRules } from '../../../src/rules/compile.js';
import type { RuleSet } from '../../../src/rules/engine.js';
import { SqliteStore } from '../../../src/store/sqlite/sqlite-store.js';
import type { SmsRecord } from '../../../src/store/store.js';
import { createTopics } from '../../../src/topics.js';

const RULES = `
contacts:
  alice: { phone: "+447700900001", name: Alice }
  bob: { phone: "+447700900002", name: Bob }
  carol: { phone: "+447700900003", name: Carol }
groups:
  field: [alice, bob]
policies:
  digest: [{ to: [carol], max: 2, window: 1m }]
  caps: [{ to: [carol], per_hour: 3 }]
rules:
  - id: overheat
    title: overheat
    topic: devices/+/overheat
    when: temp > 90
    resolve_when: temp < 80
    to: [field]
    text: "{{device.id}} hot {{payload.temp}}C. ACK {{alert.ref}}"
    cooldown: 10m
    escalate: [{ after: 5m, to: [carol] }]
    resolve_topic: devices/+/overheat/clear
    receipt_timeout: 2m
  - id: storm
    topic: devices/+/storm
    to: [carol]
    text: "{{device.id}} storm #{{alert.ref}}"
`;

const settle = async () => {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
};

describe('AlertEngine with fake timers', () => {
  let store: SqliteStore;
  let rules: RuleSet;
  let engine: AlertEngine;
  let sent: SmsRecord[];
  let events: Array<{ topic: string; payload: string; retain: boolean }>;

  /** the engine's facts as the MQTT status topics would carry them */
  const make = () => {
    const bus: Bus = {
      start: async () => undefined,
      stop: async () => undefined,
      subscribe: async () => undefined,
      hasSubscribers: () => true,
      publish: async (topic, payload, o) => {
        if (topic.startsWith('sms-bridge/alerts/'))
          events.push({ topic, payload: String(payload), retain: o?.retain ?? false });
      },
    };
    const logger = silentLogger();
    const bridgeEvents = new Events(logger);
    new Announcer({ events: bridgeEvents, bus, topics: createTopics(), logger });
    bridgeEvents.on('sms.status', (sms) => {
      if (sms.state === 'queued') sent.push(sms);
    });
    return new AlertEngine({
      rules: () => rules,
      store,
      events: bridgeEvents,
      maxAgeMs: () => 3_600_000,
      logger,
    });
  };

  const fire = async (topic: string, payload: object) => {
    const buf = Buffer.from(JSON.stringify(payload));
    const now = new Date();
    const { matches } = rules.evaluate(topic, buf, { now });
    await engine.process(matches, rules.resolutions(topic, buf, { now }), now);
  };
  const texts = () => sent.map((s) => `${s.to.slice(-1)}:${s.text}`);
  const advance = async (ms: number) => {
    await vi.advanceTimersByTimeAsync(ms);
    await settle();
  };

  beforeEach(async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    vi.setSystemTime(new Date('2025-01-15T12:00:00Z'));
    store = new SqliteStore({ path: ':memory:' });
    await store.start();
    rules = compileRules([{ file: 'r.yaml', text: RULES }]);
    sent = [];
    events = [];
    engine = make();
    await engine.start();
  });
  afterEach(async () => {
    await engine.stop();
    await store.stop();
    vi.useRealTimers();
  });

  it('stop() resolves once the decisions in flight are committed and announced', async () => {
    const pending = fire('devices/pump-7/overheat', { temp: 95 });
    await engine.stop();
    expect(texts()).toEqual(['1:pump-7 hot 95C. ACK 1', '2:pump-7 hot 95C. ACK 1']);
    await pending;
  });

  it('opens an alert with a short ref and sends the rule text to each recipient', async () => {
    await fire('devices/pump-7/overheat', { temp: 95 });
    expect(texts()).toEqual(['1:pump-7 hot 95C. ACK 1', '2:pump-7 hot 95C. ACK 1']);
    await settle();
    expect(events[0]).toMatchObject({ topic: 'sms-bridge/alerts/1', retain: true });
    expect(JSON.parse(events[0]!.payload)).toMatchObject({ ref: '1', state: 'open', device: 'pump-7' });
  });

  it.each([
    ['repeat inside the cooldown: no SMS', 9 * 60_000, 2],
    ['repeat after the cooldown: a reminder', 11 * 60_000, 4],
  ])('%s', async (_name, gap, expected) => {
    await fire('devices/pump-7/overheat', { temp: 95 });
    vi.setSystemTime(Date.now() + gap);
    await fire('devices/pump-7/overheat', { temp: 97 });
    // escalation is at 5m; acking first keeps it out of this count
    expect(sent.filter((s) => s.to !== '+447700900003')).toHaveLength(expected);
  });

  it('escalates after the step time, and an ACK stops it and tells the others', async () => {
    await fire('devices/pump-7/overheat', { temp: 95 });
    for (const s of sent) engine.onSmsStatus({ ...s, state: 'delivered' });
    await advance(5 * 60_000 - 1);
    expect(sent).toHaveLength(2);
    await advance(1);
    expect(texts()[2]).toBe('3:pump-7 hot 95C. ACK 1');
    const result = await engine.ack('1', '+447700900001');
    expect(result).toMatchObject({
      ok: true,
      code: 'acked',
      reply: 'Acked #1 pump-7 overheat. Escalation stopped.',
    });
    expect(texts().slice(3)).toEqual([
      '2:Alice acked pump-7 overheat (#1)',
      '3:Alice acked pump-7 overheat (#1)',
    ]);
    expect((await engine.ack('1', '+447700900002')).code).toBe('already_acked');
    expect((await engine.ack('99', '+447700900002')).code).toBe('unknown_ref');
  });

  it('an ACK before the step time means no escalation at all', async () => {
    await fire('devices/pump-7/overheat', { temp: 95 });
    await engine.ack('1', '+447700900002');
    await advance(60 * 60_000);
    expect(texts()).toEqual([
      '1:pump-7 hot 95C. ACK 1',
      '2:pump-7 hot 95C. ACK 1',
      '1:Bob acked pump-7 overheat (#1)',
    ]);
  });

  it.each([
    ['resolve_topic', 'devices/pump-7/overheat/clear', {}],
    ['resolve_when', 'devices/pump-7/overheat', { temp: 70 }],
  ])('%s resolves, tells those told, clears the retained event', async (_name, topic, payload) => {
    await fire('devices/pump-7/overheat', { temp: 95 });
    await fire(topic, payload);
    expect(texts().slice(2)).toEqual([
      '1:Resolved: pump-7 overheat (#1)',
      '2:Resolved: pump-7 overheat (#1)',
    ]);
    await advance(10 * 60_000);
    expect(sent).toHaveLength(4); // no escalation after resolve
    const last = events.slice(-2);
    expect(JSON.parse(last[0]!.payload).state).toBe('resolved');
    expect(last[1]).toMatchObject({ payload: '', retain: true });
  });

  it('forgets which SMS told whom once the alert is resolved (the index holds live alerts only)', async () => {
    await fire('devices/pump-7/overheat', { temp: 95 });
    await settle();
    expect(engine.indexedSms).toBe(2);
    await fire('devices/pump-7/overheat/clear', {});
    await settle();
    expect(engine.indexedSms).toBe(0);
    // a status of an SMS of the resolved alert changes nothing
    engine.onSmsStatus({ ...sent[0]!, state: 'failed' });
    await advance(10 * 60_000);
    expect(sent).toHaveLength(4);
  });

  it('keeps one SMS per recipient in the index: a reminder replaces the first', async () => {
    await fire('devices/pump-7/overheat', { temp: 95 });
    vi.setSystemTime(Date.now() + 11 * 60_000);
    await fire('devices/pump-7/overheat', { temp: 97 });
    await settle();
    expect(sent.filter((s) => s.to !== '+447700900003')).toHaveLength(4);
    expect(engine.indexedSms).toBe(2);
    // a failure of the first SMS, replaced by the reminder, does not escalate
    engine.onSmsStatus({ ...sent[0]!, state: 'failed' });
    await settle();
    expect(texts().filter((t) => t.startsWith('3:'))).toEqual([]);
  });

  it('a failed SMS of the current step escalates at once', async () => {
    await fire('devices/pump-7/overheat', { temp: 95 });
    await settle();
    engine.onSmsStatus({ ...sent[0]!, state: 'failed' });
    await settle();
    expect(texts()[2]).toBe('3:pump-7 hot 95C. ACK 1');
  });

  it('no receipt within receipt_timeout escalates before the step time', async () => {
    await fire('devices/pump-7/overheat', { temp: 95 });
    await advance(2 * 60_000);
    expect(texts()[2]).toBe('3:pump-7 hot 95C. ACK 1');
  });

  it('delivered receipts in time: no early escalation', async () => {
    await fire('devices/pump-7/overheat', { temp: 95 });
    await settle();
    for (const s of sent) engine.onSmsStatus({ ...s, state: 'delivered' });
    await advance(2 * 60_000);
    expect(sent).toHaveLength(2);
  });

  it('a storm for one person: max SMS, then one digest after the window, capped per hour', async () => {
    for (let d = 1; d <= 6; d++) await fire(`devices/d${d}/storm`, {});
    expect(texts()).toEqual(['3:d1 storm #1', '3:d2 storm #2']);
    await advance(60_000);
    expect(texts()[2]).toBe(
      '3:4 more alerts: #3 d3 storm, #4 d4 storm, #5 d5 storm, #6 d6 storm. Reply ACK <number>',
    );
    await advance(60_000);
    await fire('devices/d7/storm', {});
    expect(sent).toHaveLength(3); // per_hour: 3
  });

  it('a restart keeps the escalation schedule', async () => {
    await fire('devices/pump-7/overheat', { temp: 95 });
    for (const s of sent) engine.onSmsStatus({ ...s, state: 'delivered' });
    await advance(3 * 60_000);
    await engine.stop();
    engine = make();
    await engine.start();
    await advance(2 * 60_000 - 1);
    expect(sent).toHaveLength(2);
    await advance(1);
    expect(texts()[2]).toBe('3:pump-7 hot 95C. ACK 1');
  });
});
