import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileRules } from '../../../src/rules/compile.js';
import { compileCondition } from '../../../src/rules/condition.js';
import { CompiledRuleSet, type EvaluateContext } from '../../../src/rules/engine.js';
import { MAX_CACHED_TOPICS, TopicCache } from '../../../src/rules/topic-trie.js';

const RULES = `
contacts:
  alice: { phone: "+44 7700 900001", name: Alice }
  alice-work: { phone: "+447700900001" }
  bob: { phone: "+447700900002" }
groups:
  field: [alice, bob]
rules:
  - id: overheat
    topic: devices/+/alerts/overheat
    when: temp > 90
    to: [field, alice-work, alice]
    text: "{{device.name}} overheating: {{payload.temp}}C at {{time}}. Reply ACK {{alert.ref}}"
    priority: critical
    resolve_topic: devices/+/alerts/overheat/clear
  - id: any-alert
    topic: devices/+/alerts/#
    to: [bob]
    text: "{{device.id}} {{topic}}: {{payload}}"
  - id: fields
    topic: sensors/+
    to: [bob]
    text: "level {{payload.level}}"
  - id: off
    topic: devices/#
    to: [bob]
    text: never
    enabled: false
`;

const set = compileRules([{ file: 'rules.yaml', text: RULES }]);
const NOW = new Date('2025-06-01T12:34:56Z');

function run(topic: string, payload: string, ctx: Partial<EvaluateContext> = {}) {
  return set.evaluate(topic, Buffer.from(payload), { now: NOW, ...ctx });
}

describe('CompiledRuleSet.evaluate', () => {
  it.each([
    ['devices/pump-7/alerts/overheat', '{"temp":95}', ['overheat', 'any-alert'], [], 'when true: both rules'],
    [
      'devices/pump-7/alerts/overheat',
      '{"temp":80}',
      ['any-alert'],
      [],
      'when false: only the topic-only rule',
    ],
    [
      'devices/pump-7/alerts/overheat',
      '{"pressure":3}',
      ['any-alert'],
      [
        "rule overheat: 'when: temp > 90' failed on devices/pump-7/alerts/overheat: expected a number, got nothing (missing field)",
      ],
      'when error: no match, a diagnostic',
    ],
    [
      'devices/pump-7/alerts/overheat',
      'TEMP HIGH',
      ['any-alert'],
      [
        "rule overheat: the payload on devices/pump-7/alerts/overheat is not JSON, so 'when' cannot be checked",
      ],
      'non-JSON payload: rules without when still match',
    ],
    [
      'devices/pump-7/alerts/overheat',
      '[95]',
      ['any-alert'],
      [
        "rule overheat: the payload on devices/pump-7/alerts/overheat is not a JSON object, so 'when' cannot be checked",
      ],
      'JSON that is not an object',
    ],
    ['devices/pump-7/telemetry', '{"temp":95}', [], [], 'no topic match; a disabled rule never matches'],
    ['$SYS/devices/x', '{}', [], [], 'no match for $ topics'],
  ])('%s %s -> %j (%s)', (topic, payload, ruleIds, diagnostics) => {
    const result = run(topic, payload);
    expect(result.matches.map((m) => m.rule.id)).toEqual(ruleIds);
    expect(result.diagnostics).toEqual(diagnostics);
  });

  it('renders the text with device, payload, time (UTC) and alert ref; priority from the rule', () => {
    const [match] = run('devices/pump-7/alerts/overheat', '{"temp":95.5}', {
      device: { id: 'pump-7', name: 'North <pump> 7' },
      alertRef: '42',
    }).matches;
    expect(match?.text).toBe('North <pump> 7 overheating: 95.5C at 2025-06-01 12:34. Reply ACK 42');
    expect(match?.priority).toBe('critical');
    expect(match?.render('43')).toBe('North <pump> 7 overheating: 95.5C at 2025-06-01 12:34. Reply ACK 43');
  });

  it('takes the device from a devices/<id>/... topic, its name defaulting to the id', () => {
    const [match] = run('devices/pump-9/alerts/overheat', '{"temp":99}').matches;
    expect(match?.device).toEqual({ id: 'pump-9' });
    expect(match?.text).toBe('pump-9 overheating: 99C at 2025-06-01 12:34. Reply ACK ');
  });

  it('deduplicates recipients by phone, the first named wins', () => {
    const [match] = run('devices/pump-7/alerts/overheat', '{"temp":95}').matches;
    expect(match?.recipients).toEqual([
      { contactId: 'alice', phone: '+447700900001', name: 'Alice' },
      { contactId: 'bob', phone: '+447700900002', name: undefined },
    ]);
  });

  it('renders {{payload}} of a non-JSON payload as its raw text, unescaped', () => {
    const result = run('devices/pump-7/alerts/leak', 'LEAK <3> & "more"');
    expect(result.matches.map((m) => m.text)).toEqual([
      'pump-7 devices/pump-7/alerts/leak: LEAK <3> & "more"',
    ]);
    expect(result.diagnostics).toEqual([]);
  });

  it('says so when a template wants payload fields of a non-JSON payload, and still sends', () => {
    const result = run('sensors/tank', 'full');
    expect(result.matches.map((m) => m.text)).toEqual(['level ']);
    expect(result.diagnostics).toEqual([
      'rule fields: the payload on sensors/tank is not JSON; payload fields render empty',
    ]);
  });

  it('parses the payload only when a matched rule needs it', () => {
    const parse = JSON.parse;
    let calls = 0;
    JSON.parse = (...args: Parameters<typeof JSON.parse>) => {
      calls++;
      return parse(...args);
    };
    try {
      run('devices/pump-7/alerts/leak', '{"a":1}');
      expect(calls).toBe(0);
      run('devices/pump-7/alerts/overheat', '{"temp":95}');
      expect(calls).toBe(1);
    } finally {
      JSON.parse = parse;
    }
  });

  it('an empty rule set matches nothing', () => {
    expect(CompiledRuleSet.empty().evaluate('devices/x/alerts/y', Buffer.from('{}'), { now: NOW })).toEqual({
      matches: [],
      diagnostics: [],
    });
  });
});

describe('CompiledRuleSet.evaluate reads conditions as JSON.parse would', () => {
  // a topic whose rules all compare `temp` with a number (a number no test takes is answered from the bytes),
  // one whose rules all read `temp` (located while the payload is checked), one with a rule without `when`, one
  // whose rules read two fields, one with a general expression
  const whens: Record<string, (string | undefined)[]> = {
    'thresholds/d': ['temp > 1000', 'temp >= 20', 'temp < 5', 'temp == 7', 'temp <= 0.5'],
    'devices/d/telemetry': ['temp > 1000', 'temp >= 20', 'temp.x == 1'],
    'always/d': ['temp > 1000', undefined],
    'mixed/d': ['temp > 10', 'rpm < 100'],
    'general/d': ['temp > 10 and state == "on"', 'temp < 0'],
  };
  const idOf = (topic: string, i: number) => `${topic.replaceAll('/', '.')}-${i}`;
  const rules = compileRules([
    {
      file: 'rules.yaml',
      text: `contacts:\n  bob: { phone: "+447700900002" }\nrules:\n${Object.entries(whens)
        .flatMap(([topic, list]) =>
          list.map(
            (when, i) =>
              `  - { id: "${idOf(topic, i)}", topic: "${topic.replace(/\/d\b/, '/+')}",${when === undefined ? '' : ` when: '${when}',`} to: [bob], text: x }`,
          ),
        )
        .join('\n')}\n`,
    },
  ]);

  /** what each rule of `topic` makes of `text` when its condition runs on JSON.parse's object */
  function expected(topic: string, text: string): { matches: string[]; diagnostics: number } {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      value = undefined;
    }
    const object = value !== null && typeof value === 'object' && !Array.isArray(value);
    const out = { matches: [] as string[], diagnostics: 0 };
    whens[topic]!.forEach((when, i) => {
      if (when === undefined) {
        out.matches.push(idOf(topic, i));
        return;
      }
      if (!object) {
        out.diagnostics++;
        return;
      }
      const result = compileCondition(when)(value as Record<string, unknown>);
      if (!result.ok) out.diagnostics++;
      else if (result.match) out.matches.push(idOf(topic, i));
    });
    return out;
  }

  const value = fc.oneof(
    fc.constantFrom(
      '5',
      '7',
      '7.0',
      '-0',
      '20',
      '19.999',
      '1000.5',
      '-3',
      '-5',
      '-1000',
      '1e4',
      '-2E3',
      '"20"',
      'true',
      'null',
      '[2000]',
      '{"x":1}',
      '"on"',
      '"o\\u006e"',
    ),
    fc.double({ noNaN: true }).map((n) => JSON.stringify(n)),
  );
  const payload = fc
    .array(fc.tuple(fc.constantFrom('temp', 'rpm', 'state', 'tem', 'temps'), value), { maxLength: 5 })
    .map((fields) => `{${fields.map(([k, v]) => `"${k}": ${v}`).join(',')}}`);
  const damaged = fc
    .tuple(payload, fc.nat(), fc.constantFrom('', ' ', ',', '"', '}', '{', '\\', 'x'))
    .map(([text, n, char]) => {
      const at = n % (text.length + 1);
      return text.slice(0, at) + char + text.slice(at + 1);
    });

  it.each(Object.keys(whens))('on %s: same matches and problems, duplicate keys the last one', (topic) => {
    fc.assert(
      fc.property(fc.oneof(payload, damaged), (text) => {
        const got = rules.evaluate(topic, Buffer.from(text), { now: NOW });
        expect(
          { matches: got.matches.map((m) => m.rule.id), diagnostics: got.diagnostics.length },
          text,
        ).toEqual(expected(topic, text));
      }),
      { numRuns: 1_500 },
    );
  });

  it('a duplicate key is read for its last value', () => {
    const ids = (text: string) =>
      rules.evaluate('devices/d/telemetry', Buffer.from(text), { now: NOW }).matches.map((m) => m.rule.id);
    expect(ids('{"temp":2000,"temp":5}')).toEqual([]);
    expect(ids('{"temp":5,"temp":2000}')).toEqual(['devices.d.telemetry-0', 'devices.d.telemetry-1']);
    const thresholds = (text: string) =>
      rules.evaluate('thresholds/d', Buffer.from(text), { now: NOW }).matches.map((m) => m.rule.id);
    expect(thresholds('{"temp":2000,"temp":5}')).toEqual([]);
    expect(thresholds('{"temp":5,"temp":2000}')).toEqual(['thresholds.d-0', 'thresholds.d-1']);
  });

  it('a payload that is not JSON is said to be so even when its field would meet no threshold', () => {
    for (const text of [
      '{"temp":5',
      '{"temp":5,}',
      '{"temp":5} x',
      '{"temp":5,"s":"\u0001"}',
      '{"temp":5,"a":[1,]}',
    ])
      expect(rules.evaluate('thresholds/d', Buffer.from(text), { now: NOW }).diagnostics.length, text).toBe(
        whens['thresholds/d']!.length,
      );
  });
});

describe('CompiledRuleSet.canMatch (the per-topic cache intake stops at)', () => {
  const RESOLVING = `
contacts:
  bob: { phone: "+447700900002" }
rules:
  - id: hot
    topic: plant/+/temp
    when: temp > 90
    to: [bob]
    text: hot
    resolve_topic: plant/+/cooled
  - id: stale
    topic: plant/+/stale
    to: [bob]
    text: stale
    resolve_when: fresh == 1
`;
  const rules = compileRules([{ file: 'rules.yaml', text: RESOLVING }]);
  const ctx = { now: NOW };

  it('is true for a rule topic and for a resolve_topic no rule topic matches, false otherwise', () => {
    expect(rules.canMatch('plant/a/temp')).toBe(true);
    expect(rules.canMatch('plant/a/cooled')).toBe(true);
    expect(rules.resolutions('plant/a/cooled', Buffer.from('x'), ctx).map((r) => r.reason)).toEqual([
      'resolve_topic',
    ]);
    expect(rules.canMatch('plant/a/humidity')).toBe(false);
    expect(rules.canMatch('devices/a/telemetry')).toBe(false);
  });

  it('gives the same answers from the cache as on the first call, resolve_when included', () => {
    const payload = Buffer.from('{"temp":95,"fresh":1}');
    for (const topic of ['plant/a/temp', 'plant/a/stale', 'plant/a/cooled', 'plant/a/other']) {
      const first = [rules.evaluate(topic, payload, ctx), rules.resolutions(topic, payload, ctx)];
      const again = [rules.evaluate(topic, payload, ctx), rules.resolutions(topic, payload, ctx)];
      expect(JSON.stringify(again)).toBe(JSON.stringify(first));
    }
    expect(rules.resolutions('plant/a/stale', payload, ctx).map((r) => r.reason)).toEqual(['resolve_when']);
  });

  it('topics with the same rules share one cached answer', () => {
    const fresh = compileRules([{ file: 'rules.yaml', text: RESOLVING }]);
    for (let i = 0; i < 100; i++) {
      fresh.canMatch(`plant/d${i}/temp`);
      fresh.canMatch(`plant/d${i}/stale`);
    }
    expect(fresh.cachedTopics).toBe(200);
    expect(fresh.routesBuilt).toBe(2);
    expect(fresh.resolutions('plant/d7/stale', Buffer.from('{"fresh":1}'), ctx).map((r) => r.reason)).toEqual(
      ['resolve_when'],
    );
  });

  it(`remembers at most ${MAX_CACHED_TOPICS} topics and still answers for forgotten ones`, () => {
    const fresh = compileRules([{ file: 'rules.yaml', text: RESOLVING }]);
    for (let i = 0; i < 3 * MAX_CACHED_TOPICS; i++) {
      fresh.canMatch(`plant/d${i}/temp`);
      expect(fresh.cachedTopics).toBeLessThanOrEqual(MAX_CACHED_TOPICS);
    }
    expect(fresh.cachedTopics).toBeGreaterThanOrEqual(MAX_CACHED_TOPICS / 2);
    // the first ones were forgotten; asking again gives the same answer
    expect(fresh.canMatch('plant/d0/temp')).toBe(true);
    expect(fresh.canMatch('plant/d0/pressure')).toBe(false);
    expect(fresh.cachedTopics).toBeLessThanOrEqual(MAX_CACHED_TOPICS);
  });
});

describe('TopicCache', () => {
  it('keeps at most max topics, drops the older half at once, and keeps a topic in use', () => {
    const cache = new TopicCache<number>(4);
    cache.set('a', 1);
    cache.set('b', 2);
    cache.set('c', 3); // a, b become the older generation
    expect(cache.get('a')).toBe(1); // a moves back to the recent one
    cache.set('d', 4);
    cache.set('e', 5); // b, never asked for again, was dropped with its generation when d came
    expect(cache.size).toBeLessThanOrEqual(4);
    expect(cache.get('b')).toBeUndefined();
    expect(cache.get('a')).toBe(1);
    expect(cache.get('e')).toBe(5);
  });
});
