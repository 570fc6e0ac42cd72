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
        'cooldown 10m: held if this rule fired for this device within it',
        'escalates after 5m unacknowledged to bob',
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
