import fc from 'fast-check';
import Mustache from 'mustache';
import { describe, expect, it } from 'vitest';
import {
  compileTemplate,
  formatTime,
  type TemplateView,
  variableTokens,
} from '../../../src/rules/template.js';

function view(overrides: Partial<TemplateView> = {}): TemplateView {
  return {
    device: { id: 'pump-7', name: 'North field pump 7' },
    payload: { temp: 95, state: 'running', nested: { a: 1 }, items: ['x', 'y'], zero: 0 },
    rawPayload: '{"temp":95}',
    topic: 'devices/pump-7/alerts/overheat',
    time: '2025-01-02 03:04',
    rule: { id: 'pump-overheat' },
    alert: { ref: '42' },
    ...overrides,
  };
}

describe('compileTemplate().render', () => {
  it.each([
    ['{{device.name}} overheating: {{payload.temp}}C', 'North field pump 7 overheating: 95C'],
    [
      '{{device.id}} {{topic}} {{time}} {{rule.id}} ACK {{alert.ref}}',
      'pump-7 devices/pump-7/alerts/overheat 2025-01-02 03:04 pump-overheat ACK 42',
    ],
    ['{{payload}}', '{"temp":95}'],
    ['{{{payload}}}', '{"temp":95}'],
    ['{{payload.nested}}', '{"a":1}'],
    ['{{payload.missing}}|{{payload.nested.b}}', '|'],
    ['{{payload.zero}}', '0'],
    ['{{#payload.items}}[{{.}}]{{/payload.items}}', '[x][y]'],
    ['{{#payload.nested}}a={{a}} on {{device.id}}{{/payload.nested}}', 'a=1 on pump-7'],
    ['{{^payload.missing}}none{{/payload.missing}}', 'none'],
    ['{{! a comment }}ok', 'ok'],
    ['{{payload.constructor}}{{payload.toString}}{{payload.__proto__}}', ''],
  ])('%s -> %s', (source, text) => {
    expect(compileTemplate(source).render(view())).toBe(text);
  });

  it('does not HTML-escape < > & " \'', () => {
    const v = view({ payload: { msg: `<b>"Tom" & 'Jerry'</b>` }, device: { id: 'a&b', name: '<pump>' } });
    expect(compileTemplate('{{device.name}} {{device.id}}: {{payload.msg}}').render(v)).toBe(
      `<pump> a&b: <b>"Tom" & 'Jerry'</b>`,
    );
  });

  it('renders {{payload}} as the raw text of a non-JSON payload', () => {
    expect(
      compileTemplate('got: {{payload}}').render(
        view({ payload: 'PUMP <7> hot', rawPayload: 'PUMP <7> hot' }),
      ),
    ).toBe('got: PUMP <7> hot');
  });

  it('renders nothing for a device that is not known', () => {
    expect(compileTemplate('[{{device.name}}]').render(view({ device: undefined }))).toBe('[]');
  });
});

describe('compileTemplate().needsJson', () => {
  it.each([
    ['{{device.name}} {{topic}}', false],
    ['{{payload}}', false],
    ['{{payload.temp}}', true],
    ['{{#payload}}x{{/payload}}', true],
    ['{{#payload.items}}{{.}}{{/payload.items}}', true],
  ])('%s -> %s', (source, needsJson) => {
    expect(compileTemplate(source).needsJson).toBe(needsJson);
  });
});

describe('compileTemplate errors', () => {
  it.each([
    [
      '{{devise.name}}',
      /^unknown template variable 'devise.name'; expected one of device.id, device.name, payload/,
    ],
    ['{{device}}', /unknown template variable 'device'/],
    ['{{alert.id}}', /unknown template variable 'alert.id'/],
    ['{{rawPayload}}', /unknown template variable 'rawPayload'/],
    ['{{.}}', /unknown template variable '.'/],
    ['{{#device.name}}{{nope}}{{/device.name}}', /unknown template variable 'nope'/],
    ['{{> partial}}', /partials/],
    ['{{#payload.items}} x', /Unclosed section "payload.items"/],
    ['{{topic', /Unclosed tag/],
  ])('%s', (source, message) => {
    expect(() => compileTemplate(source)).toThrow(message);
  });
});

describe('formatTime', () => {
  it('writes YYYY-MM-DD HH:MM in UTC', () => {
    expect(formatTime(new Date('2025-03-30T01:59:59.999+02:00'))).toBe('2025-03-29 23:59');
  });

  it('gives each minute its own text, back and forth, and refuses an invalid date as toISOString does', () => {
    const times = [
      ['2025-03-29T23:59:00.000Z', '2025-03-29 23:59'],
      ['2025-03-29T23:59:59.999Z', '2025-03-29 23:59'],
      ['2025-03-30T00:00:00.000Z', '2025-03-30 00:00'],
      ['2025-03-29T23:59:30.000Z', '2025-03-29 23:59'],
      ['1969-12-31T23:59:30.000Z', '1969-12-31 23:59'],
      ['1970-01-01T00:00:30.000Z', '1970-01-01 00:00'],
    ];
    for (const [iso, text] of times) expect(formatTime(new Date(iso!))).toBe(text);
    expect(() => formatTime(new Date(Number.NaN))).toThrow(RangeError);
  });
});

describe('variableTokens: the fast read of a template whose tags are all variables', () => {
  /** The fast read either declines or gives exactly Mustache's tokens (and never takes what Mustache refuses). */
  function expectAgrees(source: string): void {
    const fast = variableTokens(source);
    if (fast === undefined) return;
    expect(fast, JSON.stringify(source)).toStrictEqual(Mustache.parse(source));
  }

  it.each([
    ['{{device.id}} hot: {{payload.temp}}', true],
    ['no tags at all', true],
    ['{{ device.id }}{{{payload}}} {{& topic }}{{  {  payload  }}}', true],
    ['{{  { payload }  }}}', false],
    ['  {{device.id}}\n  \n{{time}}\r\n', true],
    ['{ } }} {{a}}}', true],
    ['{{#payload}}{{.}}{{/payload}}', false],
    ['{{! comment }}', false],
    ['{{=<% %>=}}<% a %>', false],
    ['{{> part}}', false],
    ['{{unclosed', false],
    ['{{{a} }}', false],
    ['{{a b}}', false],
    ['{{}}', false],
  ])('%j: read fast %s, as Mustache reads it', (source, fast) => {
    expect(variableTokens(source) !== undefined).toBe(fast);
    expectAgrees(source);
  });

  it('agrees with Mustache on random templates', () => {
    const pieces = [
      ...['a', 'x y', ' ', '  ', '\t', '\n', '\r\n', '\u00a0', '{', '}', '{{', '}}', '}}}', '&', '#', '.'],
      ...['{{a}}', '{{ device.id }}', '{{{payload}}}', '{{{ p.q }}}', '{{&topic}}', '{{& t }}', '{{\t.\n}}'],
      ...['{{#s}}', '{{/s}}', '{{^s}}', '{{! c }}', '{{=<% %>=}}', '{{>p}}', '{{{a}}', '{{a b}}', '{{}}'],
    ];
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...pieces), { maxLength: 12 }), (parts) => {
        expectAgrees(parts.join(''));
      }),
      { numRuns: 5000 },
    );
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom('{', '}', ' ', '\n', 'a', '&', '.') }), (source) => {
        expectAgrees(source);
      }),
      { numRuns: 5000 },
    );
  });
});
