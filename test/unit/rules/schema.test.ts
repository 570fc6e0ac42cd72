import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { explainIssue } from '../../../src/config/zod-issues.js';
import { compiledRules, ruleSchema } from '../../../src/rules/schema.js';

/** What a schema makes of a value, as `validate` reads it: the output, or every issue with its message. */
function outcome(schema: z.ZodType, value: unknown): unknown {
  const result = schema.safeParse(value, { error: explainIssue });
  if (result.success) return { data: result.data };
  return { issues: result.error.issues.map((i) => ({ path: i.path, code: i.code, message: i.message })) };
}

/** Each key of a rule: values the schema takes (absent where it may be), and values it refuses. */
const FIELDS: Record<string, [unknown[], unknown[]]> = {
  id: [
    ['pump-7', 'a.b_c-1'],
    ['-bad', '', 7, undefined],
  ],
  topic: [
    ['devices/+/alerts', 'devices/#'],
    ['a/#/b', 'a/b+', '', 'x\u0000y', null, undefined],
  ],
  when: [
    ['temp > 90', undefined],
    ['', 3],
  ],
  to: [
    [['ops'], ['ops', 'alice']],
    [[], ['bad id'], 'ops', undefined],
  ],
  text: [['{{device.id}} hot'], ['', ['x'], undefined]],
  priority: [
    ['critical', 'low', undefined],
    ['urgent', 1],
  ],
  cooldown: [
    ['10m', '1h30m', 0, 5000, undefined],
    [-1, 1.5, '10 parsecs', null],
  ],
  escalate: [
    [
      [],
      [{ after: '5m', to: ['ops'] }],
      [
        { after: 300_000, to: ['ops'] },
        { after: '1h', to: ['boss'] },
      ],
      undefined,
    ],
    [[{ after: '5m' }], [{ after: 'soon', to: [] }], [{ after: '5m', to: ['ops'], extra: true }], 'ops'],
  ],
  resolve_topic: [['devices/+/ok', undefined], ['a/#/b']],
  max_parts: [
    [1, 255, undefined],
    [0, 256, 2.5, '3'],
  ],
  registered_delivery: [[true, false, undefined], ['yes']],
  enabled: [[true, false, undefined], [0]],
  title: [
    ['pump-7 overheat', undefined],
    ['', 'x'.repeat(41)],
  ],
  resolve_when: [['temp < 80', undefined], ['']],
  notify_resolved: [[false, true, undefined], [null]],
  receipt_timeout: [['2m', 120_000, undefined], ['never']],
  resolve_after: [['24h', 0, undefined], [{}]],
  tpoic: [[undefined], ['devices/+/alerts']],
};

const withoutAbsent = (rule: Record<string, unknown>) =>
  Object.fromEntries(Object.entries(rule).filter(([, value]) => value !== undefined));
/** Rules the schema takes, and rules with any mix of good and bad keys. */
const validRule = fc
  .record(Object.fromEntries(Object.entries(FIELDS).map(([key, [good]]) => [key, fc.constantFrom(...good)])))
  .map(withoutAbsent);
const anyRule = fc
  .record(
    Object.fromEntries(
      Object.entries(FIELDS).map(([key, [good, bad]]) => [key, fc.constantFrom(...good, ...bad)]),
    ),
  )
  .map(withoutAbsent);

describe('compiledRules(): the rule schema compiled by zod', () => {
  it('is compiled, not handed back on the runtime parser', () => {
    expect(() => z.compile(ruleSchema, { strict: true })).not.toThrow();
    expect(compiledRules()).not.toBe(ruleSchema);
  });

  it('gives what ruleSchema gives: the same output with defaults, or the same issues and messages', () => {
    const valid = { id: 'r', topic: 'devices/+/alerts', to: ['ops'], text: '{{device.id}}' };
    expect(outcome(compiledRules(), valid)).toStrictEqual(outcome(ruleSchema, valid));
    expect(outcome(compiledRules(), valid)).toMatchObject({ data: { priority: 'normal', enabled: true } });
    for (const value of [undefined, null, 'rule', [], {}]) {
      expect(outcome(compiledRules(), value)).toStrictEqual(outcome(ruleSchema, value));
    }
    for (const rules of [validRule, anyRule]) {
      fc.assert(
        fc.property(rules, (rule) => {
          expect(outcome(compiledRules(), rule)).toStrictEqual(outcome(ruleSchema, rule));
        }),
        { numRuns: 1000 },
      );
    }
    fc.assert(
      fc.property(validRule, (rule) => {
        expect(compiledRules().safeParse(rule).success).toBe(true);
      }),
    );
  });
});
