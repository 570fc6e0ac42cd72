import { afterEach, describe, expect, it, vi } from 'vitest';
import { AlertEngine } from '../../../src/alerts/alert-engine.js';
import { Events } from '../../../src/events.js';
import { silentLogger } from '../../../src/logger.js';
import { compileRules } from '../../../src/rules/compile.js';
import type { RuleSet } from '../../../src/rules/engine.js';
import { SqliteStore } from '../../../src/store/sqlite/sqlite-store.js';
import type { SmsRecord } from '../../../src/store/store.js';

/** Issue 15, item 1: no policy delays a critical alert that its own override lets through. */

const rulesWith = (policies: string) => `
contacts:
  fred: { phone: "+447700900006", name: Fred }
policies:
${policies}
rules:
  - { id: fire, title: fire, topic: devices/+/fire, to: [fred], priority: critical, text: "{{device.id}} FIRE #{{alert.ref}}" }
  - { id: leak, title: leak, topic: devices/+/leak, to: [fred], priority: high, text: "{{device.id}} leak #{{alert.ref}}" }
  - { id: note, title: note, topic: devices/+/note, to: [fred], text: "{{device.id}} note #{{alert.ref}}" }
`;

const QUIET =
  '  quiet_hours: [{ to: [fred], from: "14:00", until: "16:00", time_zone: Asia/Kolkata, override: critical }]';

const settle = async () => {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
};

let store: SqliteStore | undefined;
let engine: AlertEngine | undefined;
let rules: RuleSet;
let sent: SmsRecord[];

afterEach(async () => {
  await engine?.stop();
  await store?.stop();
  engine = undefined;
  store = undefined;
  vi.useRealTimers();
});

/** Starts an engine at `iso` (fake clock) with these policies. */
async function start(policies: string, iso: string): Promise<void> {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
  vi.setSystemTime(new Date(iso));
  store = new SqliteStore({ path: ':memory:' });
  await store.start();
  rules = compileRules([{ file: 'r.yaml', text: rulesWith(policies) }]);
  sent = [];
  const events = new Events(silentLogger());
  events.on('sms.status', (sms) => {
    if (sms.state === 'queued') sent.push(sms);
  });
  engine = new AlertEngine({
    rules: () => rules,
    store,
    events,
    maxAgeMs: () => 3_600_000,
    logger: silentLogger(),
  });
  await engine.start();
}

async function fire(topic: string): Promise<void> {
  const buf = Buffer.from('{}');
  const now = new Date();
  const { matches } = rules.evaluate(topic, buf, { now });
  await engine!.process(matches, [], now);
}

async function advanceTo(iso: string): Promise<void> {
  await vi.advanceTimersByTimeAsync(Date.parse(iso) - Date.now());
  await settle();
}

const texts = () => sent.map((s) => s.text);

describe('a critical alert is never held behind a quieter one', () => {
  it('quiet hours (Asia/Kolkata 14:00-16:00, override critical) at 15:19: the second critical goes at once', async () => {
    await start(QUIET, '2025-01-15T09:49:00Z'); // 15:19 IST
    await fire('devices/d1/fire');
    await fire('devices/d2/leak');
    expect(texts()).toEqual(['d1 FIRE #1']); // the high one waits for 16:00
    await fire('devices/d3/fire');
    expect(texts()).toEqual(['d1 FIRE #1', 'd3 FIRE #3']);
    await advanceTo('2025-01-15T10:29:59Z');
    expect(sent).toHaveLength(2);
    await advanceTo('2025-01-15T10:30:00Z'); // 16:00 IST
    expect(texts()).toEqual(['d1 FIRE #1', 'd3 FIRE #3', 'd2 leak #2']);
  });

  it('caps with critical_exceeds: a critical over the cap goes at once while a digest is pending', async () => {
    await start(
      '  digest: [{ max: 2, window: 10m }]\n  caps: [{ per_hour: 2, critical_exceeds: true }]',
      '2025-01-15T12:00:00Z',
    );
    await fire('devices/d1/note');
    await fire('devices/d2/note');
    await advanceTo('2025-01-15T12:01:00Z');
    await fire('devices/d3/note'); // third in the window: waits for the digest at 12:11
    await advanceTo('2025-01-15T12:10:01Z');
    await fire('devices/d4/fire'); // the digest window has room again, the hourly cap has not
    expect(texts()).toEqual(['d1 note #1', 'd2 note #2', 'd4 FIRE #4']);
    await advanceTo('2025-01-15T12:11:00Z');
    expect(texts()).toEqual(['d1 note #1', 'd2 note #2', 'd4 FIRE #4']); // d3 is over the cap: dropped
  });

  it('digests: a critical over the digest max waits for the digest window, not for the end of quiet hours', async () => {
    await start(`${QUIET}\n  digest: [{ max: 1, window: 5m }]`, '2025-01-15T09:49:00Z');
    await fire('devices/d1/fire');
    await fire('devices/d2/leak'); // waits for 16:00 (quiet hours)
    await fire('devices/d3/fire'); // over the digest max: waits 5 minutes
    expect(texts()).toEqual(['d1 FIRE #1']);
    await advanceTo('2025-01-15T09:54:00Z');
    // the critical goes alone; the high one keeps waiting for the end of quiet hours
    expect(texts()).toEqual(['d1 FIRE #1', 'd3 FIRE #3']);
    await advanceTo('2025-01-15T10:30:00Z');
    expect(texts()).toEqual(['d1 FIRE #1', 'd3 FIRE #3', 'd2 leak #2']);
  });
});
