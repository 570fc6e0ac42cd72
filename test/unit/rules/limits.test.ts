import { describe, expect, it } from 'vitest';
import { compileRules } from '../../../src/rules/compile.js';
import { fitToParts } from '../../../src/rules/fit-text.js';
import { splitSms } from '../../../src/smpp/segment.js';

const RULES = `
contacts:
  bob: { phone: "+447700900002" }
rules:
  - id: raw
    topic: devices/+/alerts/raw
    to: [bob]
    text: "{{payload}}"
  - id: two-parts
    topic: devices/+/alerts/two
    to: [bob]
    text: "{{payload}}"
    max_parts: 2
  - id: hot
    topic: devices/+/alerts/hot
    when: temp > 90
    to: [bob]
    text: "hot {{payload.temp}}"
    resolve_when: temp < 50
`;
const set = compileRules([{ file: 'rules.yaml', text: RULES }]);
const now = new Date('2025-06-01T12:00:00Z');

describe('what the rules store is what is sent (issue 11, attack 4)', () => {
  it('cuts a huge rendered text to max_parts with the ellipsis, and render() keeps it cut', () => {
    // 60 KiB: under the payload limit, far over 4 parts
    const big = 'x'.repeat(60_000);
    const [match] = set.evaluate('devices/p/alerts/raw', Buffer.from(big), { now }).matches;
    expect(match!.text.length).toBeLessThan(4 * 160);
    expect(match!.text.endsWith('...')).toBe(true);
    expect(splitSms(match!.text, { maxParts: 4, reference: 1 }).truncated).toBe(false);
    expect(match!.text).toBe(`${'x'.repeat(4 * 153 - 3)}...`);
    expect(match!.render('42')).toBe(match!.text);
  });

  it("honours the rule's max_parts, then the caller's", () => {
    const big = Buffer.from('é'.repeat(5000));
    const two = set.evaluate('devices/p/alerts/two', big, { now, maxParts: 9 }).matches[0]!;
    expect(splitSms(two.text, { maxParts: 9, reference: 1 }).parts).toHaveLength(2);
    const one = set.evaluate('devices/p/alerts/raw', big, { now, maxParts: 1 }).matches[0]!;
    expect(splitSms(one.text, { maxParts: 9, reference: 1 }).parts).toHaveLength(1);
  });

  it('leaves a text that fits untouched', () => {
    expect(fitToParts('short 😀 text', 1)).toBe('short 😀 text');
    const exact = 'y'.repeat(4 * 153);
    expect(fitToParts(exact, 4)).toBe(exact);
  });

  it('does not evaluate a payload over the limit: no match, a diagnostic, no resolution', () => {
    const payload = Buffer.from(JSON.stringify({ temp: 95, pad: 'z'.repeat(70_000) }));
    const result = set.evaluate('devices/p/alerts/hot', payload, { now });
    expect(result.matches).toEqual([]);
    expect(result.diagnostics).toEqual([expect.stringMatching(/over the 65536 the rules evaluate/)]);
    const cold = Buffer.from(JSON.stringify({ temp: 20, pad: 'z'.repeat(70_000) }));
    expect(set.resolutions('devices/p/alerts/hot', cold, { now })).toEqual([]);
    // configurable
    expect(
      set.evaluate('devices/p/alerts/hot', payload, { now, maxPayloadBytes: 100_000 }).matches,
    ).toHaveLength(1);
    expect(
      set.evaluate('devices/p/alerts/hot', Buffer.from('{"temp":95}'), { now, maxPayloadBytes: 5 }).matches,
    ).toEqual([]);
  });
});
