import { describe, expect, it } from 'vitest';
import { quietUntil, rotationIndex, wallMs } from '../../../src/alerts/clock.js';
import { type GateInput, gate, policiesFor, recipientsAt } from '../../../src/alerts/policy.js';
import { digestText } from '../../../src/alerts/texts.js';
import { compileRules } from '../../../src/rules/compile.js';

const at = (iso: string) => Date.parse(iso);
const LONDON = { from: '22:00', until: '07:00', time_zone: 'Europe/London' };

describe('quiet hours in an IANA zone, across DST changes', () => {
  it.each([
    ['winter night, GMT', '2025-01-15T23:30:00Z', '2025-01-16T07:00:00Z'],
    ['winter day', '2025-01-15T12:00:00Z', undefined],
    ['just before the start', '2025-01-15T21:59:00Z', undefined],
    [
      'night before clocks go forward ends 07:00 BST = 06:00Z',
      '2025-03-29T23:00:00Z',
      '2025-03-30T06:00:00Z',
    ],
    ['22:30 BST the evening clocks went forward', '2025-03-30T21:30:00Z', '2025-03-31T06:00:00Z'],
    ['night clocks go back ends 07:00 GMT = 07:00Z', '2025-10-26T00:30:00Z', '2025-10-26T07:00:00Z'],
    ['21:30Z is 22:30 BST in summer: quiet', '2025-07-01T21:30:00Z', '2025-07-02T06:00:00Z'],
    ['06:30Z is 07:30 BST in summer: not quiet', '2025-07-01T06:30:00Z', undefined],
  ])('%s', (_name, now, end) => {
    expect(quietUntil(at(now), LONDON)).toBe(end === undefined ? undefined : at(end));
  });

  it.each([
    ['same-day window', '09:00', '17:00', 'UTC', '2025-01-15T10:00:00Z', '2025-01-15T17:00:00Z'],
    ['from == until is never quiet', '09:00', '09:00', 'UTC', '2025-01-15T09:00:00Z', undefined],
    ['New York, EST', '20:00', '06:00', 'America/New_York', '2025-01-16T02:00:00Z', '2025-01-16T11:00:00Z'],
  ])('%s', (_name, from, until, time_zone, now, end) => {
    expect(quietUntil(at(now), { from, until, time_zone })).toBe(end === undefined ? undefined : at(end));
  });

  it('reads wall clocks in the zone', () => {
    expect(wallMs(at('2025-07-01T12:00:00Z'), 'Europe/London')).toBe(at('2025-07-01T13:00:00Z'));
  });
});

describe('weekly rotation', () => {
  const r = { time_zone: 'Europe/London', start: '2025-03-24 09:00', weeks: ['alice', 'bob', 'carol'] };
  it.each([
    ['at the first handover', '2025-03-24T09:00:00Z', 0],
    ['a minute before it', '2025-03-24T08:59:00Z', 2],
    ['second week, after the DST change: 09:00 BST is 08:00Z', '2025-03-31T08:00:00Z', 1],
    ['08:30Z on that Monday is 09:30 BST', '2025-03-31T08:30:00Z', 1],
    ['07:30Z is 08:30 BST: still week 0', '2025-03-31T07:30:00Z', 0],
    ['fourth week wraps', '2025-04-14T09:00:00Z', 0],
  ])('%s', (_name, now, index) => {
    expect(rotationIndex(at(now), r)).toBe(index);
  });
});

describe('gate: which alert SMS go now, wait or are dropped', () => {
  const now = at('2025-01-15T12:00:00Z');
  const base: GateInput = {
    now,
    priority: 'normal',
    kind: 'alert',
    policies: {},
    sent: [],
    heldUntil: undefined,
  };
  const digest = { max: 2, window: 60_000 };
  const caps = { per_hour: 2, per_day: 3, critical_exceeds: false };
  const quiet = { ...LONDON, override: 'critical' as const };
  const night = at('2025-01-15T23:00:00Z');
  it.each<[string, Partial<GateInput>, ReturnType<typeof gate>]>([
    ['no policies: send', {}, { kind: 'send' }],
    ['digest: under max', { policies: { digest }, sent: [now - 1000] }, { kind: 'send' }],
    [
      'digest: at max, hold for a window',
      { policies: { digest }, sent: [now - 2000, now - 1000] },
      { kind: 'hold', until: now + 60_000, why: 'digest' },
    ],
    [
      'digest: old sends do not count',
      { policies: { digest }, sent: [now - 90_000, now - 61_000] },
      { kind: 'send' },
    ],
    [
      'a pending digest takes the next alert too',
      { heldUntil: now + 5 },
      { kind: 'hold', until: now + 5, why: 'digest' },
    ],
    ['cap per hour', { policies: { caps }, sent: [now - 10, now - 5] }, { kind: 'drop', why: 'cap_hour' }],
    [
      'cap per day',
      { policies: { caps }, sent: [now - 7_200_000, now - 7_100_000, now - 7_000_000] },
      { kind: 'drop', why: 'cap_day' },
    ],
    [
      'critical is capped unless configured',
      { priority: 'critical', policies: { caps }, sent: [now - 10, now - 5] },
      { kind: 'drop', why: 'cap_hour' },
    ],
    [
      'critical exceeds where configured',
      {
        priority: 'critical',
        policies: { caps: { ...caps, critical_exceeds: true } },
        sent: [now - 10, now - 5],
      },
      { kind: 'send' },
    ],
    [
      'quiet hours hold until they end',
      { now: night, policies: { quiet } },
      { kind: 'hold', until: at('2025-01-16T07:00:00Z'), why: 'quiet' },
    ],
    [
      'critical overrides quiet hours',
      { now: night, priority: 'critical', policies: { quiet } },
      { kind: 'send' },
    ],
    [
      'override: high lets high through',
      { now: night, priority: 'high', policies: { quiet: { ...quiet, override: 'high' } } },
      { kind: 'send' },
    ],
    [
      'critical in quiet hours does not wait behind a held queue',
      { now: night, priority: 'critical', policies: { quiet }, heldUntil: at('2025-01-16T07:00:00Z') },
      { kind: 'send' },
    ],
    [
      'critical does not join a pending digest',
      { priority: 'critical', heldUntil: now + 5 },
      { kind: 'send' },
    ],
    [
      'critical over the digest max waits for the window, not longer',
      {
        now: night,
        priority: 'critical',
        policies: { quiet, digest },
        sent: [night - 2000, night - 1000],
        heldUntil: at('2025-01-16T07:00:00Z'),
      },
      { kind: 'hold', until: night + 60_000, why: 'digest' },
    ],
    [
      'a notice in quiet hours is dropped',
      { now: night, kind: 'notice', policies: { quiet } },
      { kind: 'drop', why: 'quiet' },
    ],
    [
      'a notice ignores caps',
      { kind: 'notice', policies: { caps }, sent: [now - 10, now - 5] },
      { kind: 'send' },
    ],
  ])('%s', (_name, input, expected) => {
    expect(gate({ ...base, ...input })).toEqual(expected);
  });
});

describe('digest text', () => {
  it('lists refs and labels, and says how many more did not fit', () => {
    expect(
      digestText([
        { ref: '4', label: 'pump-4 overheat' },
        { ref: '5', label: 'pump-5 overheat' },
      ]),
    ).toBe('2 more alerts: #4 pump-4 overheat, #5 pump-5 overheat. Reply ACK <number>');
    const many = Array.from({ length: 17 }, (_, i) => ({
      ref: String(i + 4),
      label: `pump-${i + 4} overheat`,
    }));
    const text = digestText(many);
    expect(text).toMatch(/^17 more alerts: #4 pump-4 overheat, .* and \d+ more\. Reply ACK <number>$/);
    expect(text.length).toBeLessThanOrEqual(160);
  });
});

describe('the example rule file', () => {
  it('compiles with its policies and rotation', async () => {
    const { readFileSync } = await import('node:fs');
    const { compileRules } = await import('../../../src/rules/compile.js');
    const file = 'config/rules/pumps.yaml';
    const set = compileRules([{ file, text: readFileSync(file, 'utf8') }]);
    expect(set.policies.digest).toEqual([{ max: 3, window: 600_000 }]);
    expect(set.rotations.get('on-call')?.weeks).toEqual(['alice', 'bob']);
    expect(set.rules[0]).toMatchObject({
      title: 'overheat',
      resolveWhen: 'temp < 80',
      receiptTimeoutMs: 180_000,
    });
  });
});

describe('who is told and under which policies, per rule set', () => {
  const rulesWith = (members: string, perHour: number) =>
    compileRules([
      {
        file: 'r.yaml',
        text: `
contacts:
  alice: { phone: "+447700900001" }
  bob: { phone: "+447700900002" }
groups:
  ops: [${members}]
rotations:
  on-call: { time_zone: UTC, start: "2025-01-06 09:00", weeks: [alice, bob] }
policies:
  caps:
    - { per_hour: ${perHour} }
rules:
  - { id: r, topic: t/+, to: [ops], text: x, escalate: [{ after: 5m, to: [on-call] }] }
`,
      },
    ]);
  const week0 = Date.parse('2025-01-07T12:00:00Z');
  const week1 = week0 + 7 * 24 * 3_600_000;
  const phones = (list: readonly { phone: string }[]) => list.map((r) => r.phone);

  it("a rotation names this week's contact, asked again and again", () => {
    const rules = rulesWith('alice', 10);
    const step = rules.rule('r')!.escalate[0]!.to;
    for (let i = 0; i < 2; i++) {
      expect(phones(recipientsAt(rules, step, week0))).toEqual(['+447700900001']);
      expect(phones(recipientsAt(rules, step, week1))).toEqual(['+447700900002']);
    }
  });

  it('a reloaded rule set answers with its own contacts and policies', () => {
    const before = rulesWith('alice', 10);
    const after = rulesWith('bob', 3);
    for (let i = 0; i < 2; i++) {
      expect(phones(recipientsAt(before, before.rule('r')!.to, week0))).toEqual(['+447700900001']);
      expect(phones(recipientsAt(after, after.rule('r')!.to, week0))).toEqual(['+447700900002']);
      expect(policiesFor(before, '+447700900001').caps?.per_hour).toBe(10);
      expect(policiesFor(after, '+447700900001').caps?.per_hour).toBe(3);
    }
  });
});
