import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { AlertEngine } from '../../../src/alerts/alert-engine.js';
import { isBridgeError } from '../../../src/errors.js';
import { Events } from '../../../src/events.js';
import { silentLogger } from '../../../src/logger.js';
import { compileRules } from '../../../src/rules/compile.js';
import type { RuleSet } from '../../../src/rules/engine.js';
import { SqliteStore } from '../../../src/store/sqlite/sqlite-store.js';
import type { SmsRecord } from '../../../src/store/store.js';

/**
 * Two bridge instances writing one store (issue 13): each has its own book of alerts, and a shared
 * subscription hands a device's messages to either. Cooldowns, ACKs and escalations must hold across them.
 */

const RULES = `
contacts:
  alice: { phone: "+447700900001", name: Alice }
  bob: { phone: "+447700900002", name: Bob }
  carol: { phone: "+447700900003", name: Carol }
policies:
  digest: [{ to: [carol], max: 1, window: 1m }]
rules:
  - id: overheat
    topic: devices/+/overheat
    to: [alice, bob]
    text: "{{device.id}} hot. ACK {{alert.ref}}"
    cooldown: 10m
    escalate: [{ after: 5m, to: [carol] }]
  - id: every
    topic: devices/+/every
    to: [alice]
    cooldown: 0s
    text: "{{device.id}} every time"
  - id: storm
    topic: devices/+/storm
    to: [carol]
    text: "{{device.id}} storm #{{alert.ref}}"
`;

const settle = async () => {
  for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
};

describe('alert engines of two instances on one store', () => {
  let store: SqliteStore;
  let rules: RuleSet;
  let sent: SmsRecord[];
  const engines: AlertEngine[] = [];

  const engine = async (refreshMs?: number, maxTransactions?: number) => {
    const logger = silentLogger();
    const events = new Events(logger);
    events.on('sms.status', (sms) => {
      if (sms.state === 'queued') sent.push(sms);
    });
    const e = new AlertEngine({
      rules: () => rules,
      store,
      events,
      maxAgeMs: () => 3_600_000,
      logger,
      refreshMs,
      shared: true,
      maxTransactions,
    });
    await e.start();
    engines.push(e);
    return e;
  };
  const fire = async (e: AlertEngine, device: string, what = 'overheat', now = new Date()) => {
    const { matches } = rules.evaluate(`devices/${device}/${what}`, Buffer.from('{}'), { now });
    return e.process(matches, [], now);
  };
  const to = (phone: string) => sent.filter((s) => s.to === phone);
  const advance = async (ms: number) => {
    await vi.advanceTimersByTimeAsync(ms);
    await settle();
  };

  beforeEach(async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
    vi.setSystemTime(new Date('2026-11-29T12:00:00Z'));
    store = new SqliteStore({ path: ':memory:' });
    await store.start();
    rules = compileRules([{ file: 'r.yaml', text: RULES }]);
    sent = [];
  });
  afterEach(async () => {
    for (const e of engines.splice(0)) await e.stop();
    await store.stop();
    vi.useRealTimers();
  });

  it('a cooldown started by one instance holds on the other, which counts the repeat', async () => {
    const a = await engine();
    const b = await engine();
    expect(await fire(a, 'pump-7')).toHaveLength(2);
    await advance(60_000);
    // b's book has never seen the alert: its first decision loses to a's and is made again on the store
    expect(await fire(b, 'pump-7')).toEqual([]);
    expect(sent).toHaveLength(2);
    const { alerts } = await store.loadAlerts(Date.now());
    expect(alerts.map((x) => [x.alert.ref, x.alert.count])).toEqual([['1', 2]]);
    // and b opens the next alert with the next id and ref, not a's
    expect(await fire(b, 'pump-8')).toHaveLength(2);
    expect(sent.at(-1)?.text).toBe('pump-8 hot. ACK 2');
  });

  it('decides on the stored alert and opens with ids and refs from the store: no decision lost, none retried', async () => {
    let conflicts = 0;
    const commit = store.transaction.bind(store);
    store.transaction = (fn) =>
      commit(fn).catch((err: unknown) => {
        if (isBridgeError(err, 'ERR_STORE_CONFLICT')) conflicts++;
        throw err;
      });
    const a = await engine();
    const b = await engine();
    expect(await fire(a, 'pump-7')).toHaveLength(2);
    await advance(60_000);
    // b's book has never seen pump-7: it reads it under lock in its transaction and counts the repeat
    expect(await fire(b, 'pump-7')).toEqual([]);
    // each opens an alert the other's book does not know: ids and refs drawn from the store do not collide
    expect(await fire(b, 'pump-8')).toHaveLength(2);
    expect(await fire(a, 'pump-9')).toHaveLength(2);
    const { alerts } = await store.loadAlerts(Date.now());
    expect(alerts.map((x) => [x.alert.id, x.alert.ref, x.alert.deviceId, x.alert.count])).toEqual([
      [1, '1', 'pump-7', 2],
      [2, '2', 'pump-8', 1],
      [3, '3', 'pump-9', 1],
    ]);
    expect(conflicts).toBe(0);
  });

  it('commits at most maxTransactions decisions at once, the others in the order they came', async () => {
    let open = 0;
    let most = 0;
    const commit = store.transaction.bind(store);
    store.transaction = async (fn) => {
      most = Math.max(most, ++open);
      try {
        return await commit(fn);
      } finally {
        open--;
      }
    };
    const a = await engine(undefined, 2);
    const devices = Array.from({ length: 10 }, (_, i) => `pump-${i}`);
    await Promise.all(devices.map((d) => fire(a, d)));
    expect(most).toBe(2);
    expect(sent.filter((s) => s.to === '+447700900001').map((s) => s.text.split(' ')[0])).toEqual(devices);
  });

  it('an ACK handled by one instance stops the escalation the other armed', async () => {
    // refreshed rarely: b learns of the alert because the ACK names a ref it does not know
    const a = await engine(600_000);
    const b = await engine(600_000);
    await fire(a, 'pump-7');
    await advance(60_000);
    const ack = await b.ack('1', '+447700900001');
    expect(ack).toMatchObject({ ok: true, code: 'acked', notified: 1 });
    expect(to('+447700900002').map((s) => s.text)).toEqual([
      'pump-7 hot. ACK 1',
      'Alice acked pump-7 overheat (#1)',
    ]);
    // a's timer fires at 5 min on its stale book: its escalation loses and it reads the ACK back
    await advance(5 * 60_000 + 1);
    expect(to('+447700900003')).toEqual([]);
  });

  it('when the instance that opened an alert dies, another escalates it, once', async () => {
    const a = await engine(30_000);
    const b = await engine(30_000);
    const c = await engine(30_000);
    await fire(a, 'pump-7');
    await a.stop();
    await advance(5 * 60_000 + 1);
    // b and c both learned of the alert and both timers fired; one escalation committed
    expect(to('+447700900003').map((s) => s.text)).toEqual(['pump-7 hot. ACK 1']);
    expect(b.live()[0]?.step).toBe(1);
    expect(c.live()[0]?.step).toBe(1);
  });

  it('a digest held by one instance is sent once though every instance knows it', async () => {
    const a = await engine(20_000);
    const b = await engine(20_000);
    for (const d of ['pump-1', 'pump-2', 'pump-3']) await fire(a, d, 'storm');
    expect(to('+447700900003')).toHaveLength(1);
    await advance(30_000);
    expect(b.live()).toHaveLength(3);
    await advance(60_000);
    const carol = to('+447700900003').map((s) => s.text);
    expect(carol).toHaveLength(2);
    expect(carol[1]).toMatch(/^2 more alerts: #2 pump-2 storm, #3 pump-3 storm/);
  });

  it('cooldown 0s sends for every message, also one that arrived before the send another instance made', async () => {
    const a = await engine();
    const b = await engine();
    const early = new Date();
    await advance(10_000);
    expect(await fire(a, 'pump-7', 'every')).toHaveLength(1);
    // b took its message 10 s earlier; its decision loses to a's and is made again on a's later send
    expect(await fire(b, 'pump-7', 'every', early)).toHaveLength(1);
    expect(to('+447700900001')).toHaveLength(2);
  });
});
