import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testRule, testRuleCommand } from '../../../src/cli/test-rule.js';
import { compileRules } from '../../../src/rules/compile.js';
import { captureIo } from './helpers.js';

const RULES = `contacts:
  alice: { phone: "+447700900001", name: Alice }
  bob: { phone: "+447700900002" }
groups:
  field: [alice, bob]
rules:
  - id: hot
    topic: devices/+/alerts/overheat
    when: temp > 90
    to: [field]
    text: "{{device.name}} overheating: {{payload.temp}}C. Reply ACK {{alert.ref}}"
    priority: critical
    cooldown: 10m
    escalate: [{ after: 5m, to: [bob] }]
  - id: greek
    topic: devices/+/alerts/#
    to: [bob]
    text: "Θερμοκρασία {{payload.temp}}"
    max_parts: 1
  - id: off
    topic: devices/#
    to: [bob]
    text: never
    enabled: false
  - id: long
    topic: devices/+/log
    to: [alice]
    text: "{{payload}}"
`;

const rules = compileRules([{ file: 'rules/r.yaml', text: RULES }]);
const now = new Date('2025-01-01T00:00:00Z');
const run = (topic: string, payload: string, device?: { id: string; name?: string }) =>
  testRule(rules, { topic, payload, device, alertRef: '42', maxParts: 4, now });

describe('testRule', () => {
  it('shows each rule that fires: recipients, text, encoding, parts and policies', () => {
    const result = run('devices/pump-7/alerts/overheat', '{"temp":95}', { id: 'pump-7', name: 'Pump 7' });
    expect(result.fired.map((f) => f.rule)).toEqual(['hot', 'greek']);
    expect(result.fired[0]).toEqual({
      rule: 'hot',
      file: 'rules/r.yaml',
      priority: 'critical',
      to: [
        { contact: 'alice', phone: '+447700900001' },
        { contact: 'bob', phone: '+447700900002' },
      ],
      text: 'Pump 7 overheating: 95C. Reply ACK 42',
      encoding: 'GSM 03.38',
      parts: 1,
      units: 37,
      truncated: false,
      policies: [
        'cooldown 10m: a repeat for the same device within 10m sends nothing (the alert is updated); after it, a reminder',
        'escalation step 1 at 5m if not acked: bob (bob, already told: nobody new)',
        'receipt_timeout: none (a failed SMS still escalates at once)',
        'resolve_topic, resolve_when: none, only resolve_after closes the alert',
        'resolve_after 1d (default): no match for that long closes the alert without a notice',
      ],
      recipients: [
        {
          contact: 'alice',
          phone: '+447700900001',
          when: 'at once',
          policies: ['digest: none', 'caps: none', 'quiet hours: none'],
        },
        {
          contact: 'bob',
          phone: '+447700900002',
          when: 'at once',
          policies: ['digest: none', 'caps: none', 'quiet hours: none'],
        },
      ],
    });
    expect(result.fired[1]).toMatchObject({ encoding: 'UCS2', parts: 1, text: 'Θερμοκρασία 95' });
    expect(result.skipped).toEqual([{ rule: 'off', reason: 'disabled (enabled: false)' }]);
  });

  it.each([
    ['a false condition', '{"temp":50}', /'when: temp > 90' is false/],
    ['a payload that is not JSON', 'hot!', /is not JSON, so 'when' cannot be checked/],
  ])('says why a rule on the topic does not fire: %s', (_name, payload, reason) => {
    const result = run('devices/pump-7/alerts/overheat', payload);
    expect(result.fired.map((f) => f.rule)).not.toContain('hot');
    expect(result.skipped.find((s) => s.rule === 'hot')?.reason).toMatch(reason);
  });

  it.each([
    [150, 1, 'GSM 03.38', false],
    [161, 2, 'GSM 03.38', false],
    [153 * 4 + 1, 4, 'GSM 03.38', true],
  ])('counts a %i-character text as %i part(s)', (length, parts, encoding, truncated) => {
    const result = run('devices/pump-7/log', 'x'.repeat(length));
    expect(result.fired[0]).toMatchObject({ parts, encoding, truncated });
  });

  it('fires nothing on an unrelated topic', () => {
    expect(run('elsewhere', '{}')).toMatchObject({ fired: [], skipped: [] });
  });
});

const POLICY_RULES = `contacts:
  alice: { phone: "+447700900001", name: Alice }
  bob: { phone: "+447700900002" }
  carol: { phone: "+447700900003" }
groups:
  field: [alice, bob]
rotations:
  on-call: { time_zone: Europe/London, start: "2024-12-30 09:00", weeks: [alice, carol] }
policies:
  digest: [{ to: [alice], max: 3, window: 10m }]
  caps: [{ to: [field], per_hour: 10, per_day: 40, critical_exceeds: true }]
  quiet_hours: [{ to: [field], from: "22:00", until: "07:00", time_zone: Europe/London, override: critical }]
rules:
  - id: hot
    title: overheat
    topic: devices/+/hot
    to: [field]
    text: hot
    priority: critical
    escalate: [{ after: 5m, to: [on-call] }, { after: 10m, to: [field] }]
    receipt_timeout: 3m
    resolve_topic: devices/+/hot/clear
    resolve_when: temp < 80
  - id: leak
    topic: devices/+/leak
    to: [field]
    text: leak
    priority: high
    cooldown: 0s
    receipt_timeout: 2m
    notify_resolved: false
    resolve_when: ok == 1
`;

describe('testRule: every policy that can change what a rule sends, per recipient', () => {
  const set = compileRules([{ file: 'p.yaml', text: POLICY_RULES }]);
  const at = (topic: string, iso: string) =>
    testRule(set, { topic, payload: '{}', device: undefined, alertRef: '1', maxParts: 4, now: new Date(iso) })
      .fired[0]!;

  it('the rule: cooldown default, escalation steps with this week of a rotation, receipts, resolving', () => {
    expect(at('devices/p/hot', '2025-01-15T12:00:00Z').policies).toEqual([
      'cooldown 10m (default): a repeat for the same device within 10m sends nothing (the alert is updated); after it, a reminder',
      'escalation step 1 at 5m if not acked: on-call (this week alice, already told: nobody new)',
      'escalation step 2 at 15m if not acked: field (alice, bob, already told: nobody new)',
      "receipt_timeout 3m: a step's SMS not delivered within 3m escalates at once (a failed SMS at once anyway)",
      'resolve_topic devices/+/hot/clear: a message there resolves the alert',
      "resolve_when 'temp < 80': a message on devices/+/hot where it holds resolves the alert",
      'notify_resolved: "Resolved: ..." to everyone told (dropped in their quiet hours)',
      'resolve_after 1d (default): no match for that long closes the alert without a notice',
    ]);
  });

  it('cooldown 0s, and a receipt_timeout that cannot apply', () => {
    expect(at('devices/p/leak', '2025-01-15T12:00:00Z').policies).toEqual([
      'cooldown 0s: no cooldown, every match for the same device sends again',
      'escalation: none',
      'receipt_timeout 2m: cannot apply, the rule has no escalation step',
      "resolve_when 'ok == 1': a message on devices/+/leak where it holds resolves the alert",
      'notify_resolved: false, resolving sends nothing',
      'resolve_after 1d (default): no match for that long closes the alert without a notice',
    ]);
  });

  it("the file's digest, caps and quiet hours for each person, escalation included", () => {
    expect(at('devices/p/hot', '2025-01-15T12:00:00Z').recipients).toEqual([
      {
        contact: 'alice',
        phone: '+447700900001',
        when: 'at once',
        policies: [
          'digest: max 3 alert SMS per 10m, then one digest at the end of the window',
          'caps: 10/hour, 40/day; cannot apply: critical alerts exceed them (critical_exceeds: true)',
          'quiet hours: 22:00-07:00 Europe/London, not quiet now; cannot apply: a critical alert goes anyway (override: critical)',
        ],
      },
      {
        contact: 'bob',
        phone: '+447700900002',
        when: 'at once',
        policies: [
          'digest: none',
          'caps: 10/hour, 40/day; cannot apply: critical alerts exceed them (critical_exceeds: true)',
          'quiet hours: 22:00-07:00 Europe/London, not quiet now; cannot apply: a critical alert goes anyway (override: critical)',
        ],
      },
    ]);
  });

  it('a high alert at night: capped, and waits for the end of quiet hours; the rotation names carol', () => {
    const leak = at('devices/p/leak', '2025-01-15T23:30:00Z');
    expect(leak.recipients[1]!.policies.slice(1)).toEqual([
      "caps: 10/hour, 40/day; over them this alert's SMS is dropped (logged at warn)",
      'quiet hours: 22:00-07:00 Europe/London, quiet now until 07:00; a high alert waits until they end (override: critical)',
    ]);
    const hot = at('devices/p/hot', '2025-01-08T12:00:00Z'); // week 2 of the rotation: carol
    expect(hot.policies[1]).toBe('escalation step 1 at 5m if not acked: on-call (this week carol)');
    expect(hot.recipients.map((r) => [r.contact, r.when, r.policies[2]])).toEqual([
      ['alice', 'at once', expect.stringContaining('quiet hours: 22:00-07:00')],
      ['bob', 'at once', expect.stringContaining('quiet hours: 22:00-07:00')],
      ['carol', 'escalation step 1', 'quiet hours: none'],
    ]);
  });
});

describe('test-rule command', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'sms-bridge-test-rule-'));
    mkdirSync(path.join(dir, 'rules'));
    writeFileSync(path.join(dir, 'rules/r.yaml'), RULES);
    writeFileSync(
      path.join(dir, 'bridge.yaml'),
      'smpp: { connections: [{ id: a, url: "smpp://127.0.0.1:1", system_id: b }] }\nrules: [rules/*.yaml]\ndevices: []\n',
    );
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('prints the dry run with phone numbers masked', async () => {
    const io = captureIo(dir);
    const code = await testRuleCommand(
      ['-c', 'bridge.yaml', '--topic', 'devices/pump-7/alerts/overheat', '--payload', '{"temp":95}'],
      io,
    );
    expect(code).toBe(0);
    expect(io.out).toContain('rule hot fires (rules/r.yaml), priority critical');
    expect(io.out).toContain('to:       alice +44770090****, bob +44770090****');
    expect(io.out).toContain('text:     pump-7 overheating: 95C. Reply ACK 1234');
    expect(io.out).toContain('encoding: GSM 03.38, 39 septets, 1 SMS part(s)');
    expect(io.out).toContain('rule off does not fire: disabled');
  });

  it('reads the payload from standard input with --payload - and prints JSON', async () => {
    const io = captureIo(dir, '{"temp":99}\n');
    const code = await testRuleCommand(
      ['-c', 'bridge.yaml', '-t', 'devices/p1/alerts/overheat', '-p', '-', '--json', '--alert-ref', 'A7'],
      io,
    );
    expect(code).toBe(0);
    expect(JSON.parse(io.out).fired[0]).toMatchObject({
      rule: 'hot',
      text: 'p1 overheating: 99C. Reply ACK A7',
    });
  });

  it('refuses to run on files with problems (exit 1)', async () => {
    const io = captureIo(dir);
    const code = await testRuleCommand(['-c', 'nope.yaml', '-t', 'a', '-p', '{}'], io);
    expect(code).toBe(1);
    expect(io.err).toMatch(/cannot read/);
  });
});
