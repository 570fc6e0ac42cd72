import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileCondition } from '../../../src/rules/condition.js';
import { PayloadFields } from '../../../src/rules/payload-fields.js';

/** What JSON.parse makes of the bytes, as the engine decodes them (UTF-8, invalid sequences replaced). */
function parsed(bytes: Buffer): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(bytes.toString('utf8')) };
  } catch {
    return { ok: false };
  }
}

/**
 * PayloadFields either defers to JSON.parse or agrees with it on validity and on every top-level field, with or
 * without a hint (the field located in the scan itself); a hint changes nothing about which payloads it takes.
 */
function agrees(bytes: Buffer, hint?: string): void {
  const fields = PayloadFields.scan(bytes, hint);
  if (hint !== undefined) expect(fields === undefined).toBe(PayloadFields.scan(bytes) === undefined);
  if (fields === undefined) return;
  const full = parsed(bytes);
  expect(full.ok, `scan accepted what JSON.parse refuses: ${JSON.stringify(bytes.toString('latin1'))}`).toBe(
    true,
  );
  const value = (full as { value: Record<string, unknown> }).value;
  expect(value !== null && typeof value === 'object' && !Array.isArray(value)).toBe(true);
  // the hint first: it is what the engine reads first
  const keys = [
    ...(hint === undefined ? [] : [hint]),
    ...Object.keys(value),
    'missing',
    '__proto__',
    'constructor',
  ];
  for (const key of keys) {
    expect(fields.get(key), `field ${key} of ${bytes.toString('latin1')} (hint ${hint})`).toStrictEqual(
      Object.hasOwn(value, key) ? value[key] : undefined,
    );
  }
}

/** A JSON value as text, nested a little, with the spacing and escapes devices send. */
const jsonText: fc.Arbitrary<string> = fc.letrec<{ value: string }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc
      .oneof(fc.double(), fc.integer(), fc.constantFrom(0, -0, 1e21, 5e-324))
      .map((n) => JSON.stringify(n) ?? 'null'),
    fc.constantFrom('true', 'false', 'null', '1E2', '-0.0e-0', '12.50', '"\\u00e9\\n\\""'),
    fc.string({ unit: 'binary', maxLength: 6 }).map((t) => JSON.stringify(t)),
    fc.array(tie('value'), { maxLength: 3 }).map((items) => `[${items.join(',')}]`),
    fc
      .array(fc.tuple(fc.constantFrom('a', 'temp', 'b'), tie('value')), { maxLength: 3 })
      .map((fields) => `{${fields.map(([k, v]) => `"${k}":${v}`).join(',')}}`),
  ),
})).value;

/** A top-level object as text, duplicate keys and spacing included. */
const objectText = fc
  .tuple(
    fc.array(fc.tuple(fc.constantFrom('temp', 'a', 'b', 'te', 'tempo', '__proto__'), jsonText), {
      maxLength: 6,
    }),
    fc.constantFrom('', ' ', '\n\t', ' \r\n '),
  )
  .map(
    ([fields, space]) =>
      `{${space}${fields.map(([k, v]) => `"${k}"${space}:${space}${v}`).join(`${space},`)}${space}}`,
  );

describe('PayloadFields (a JSON object read field by field)', () => {
  it.each([
    '{"temp":21.5,"state":"running","rpm":1450}',
    ' { "temp" : -0 , "a" : [1, {"b": [true, false, null]}], "o": {} } \n',
    '{}',
    '{"n":0.1,"m":-12.50e3,"e":1E-7,"big":123456789012345678901,"f":3.14159265358979323846}',
    '{"n":1e400,"m":-1e-400,"x":900719925474099.1,"y":0.0000000000000000000001}',
    '{"s":"a\\"b\\\\c\\u00e9\\n","t":"é ü ✓ 😀","u":""}',
    '{"dup":1,"dup":2}',
    '{"__proto__":{"x":1},"constructor":5}',
    '{"nested":{"temp":99},"temp":1}',
  ])('reads %s as JSON.parse does', (text) => {
    const bytes = Buffer.from(text);
    expect(PayloadFields.scan(bytes)).toBeDefined();
    agrees(bytes);
  });

  it.each([
    '',
    ' ',
    '{',
    '}',
    '{"a":1,}',
    '{"a":1 "b":2}',
    '{"a":01}',
    '{"a":1.}',
    '{"a":.5}',
    '{"a":+1}',
    '{"a":1e}',
    '{"a":-}',
    '{"a":tru}',
    '{"a":True}',
    '{"a":"x}',
    '{"a":"\\x"}',
    '{"a":"\\u12G4"}',
    '{"a":"tab\there"}',
    '{"a":[1,]}',
    '{"a":[1 2]}',
    '{"a":{"b"}}',
    '{"a":1}x',
    '{"a":1}{}',
    "{'a':1}",
    '{a:1}',
    '{"a":NaN}',
    '{"a":Infinity}',
    '\u00a0{"a":1}',
    '\ufeff{"a":1}',
  ])('leaves %j to JSON.parse, which refuses it too', (text) => {
    const bytes = Buffer.from(text);
    expect(PayloadFields.scan(bytes)).toBeUndefined();
    expect(parsed(bytes).ok).toBe(false);
  });

  it.each(['[1,2]', '"text"', '42', 'null', '{"k\\u0065y":1}', '{"é":1}'])(
    'leaves valid but unusual %j to JSON.parse',
    (text) => {
      expect(PayloadFields.scan(Buffer.from(text))).toBeUndefined();
    },
  );

  it('treats invalid UTF-8 inside a string as the engine’s UTF-8 decoding does', () => {
    for (const bytes of [
      Buffer.from([0x7b, 0x22, 0x73, 0x22, 0x3a, 0x22, 0xe2, 0x82, 0x22, 0x7d]), // {"s":"<cut €>"}
      Buffer.from([0x7b, 0x22, 0x73, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x41, 0x22, 0x7d]),
    ]) {
      expect(PayloadFields.scan(bytes)).toBeDefined();
      agrees(bytes);
    }
  });

  it('agrees with JSON.parse on 20,000 random near-JSON payloads', () => {
    let seed = 14;
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
      return seed / 2_147_483_648;
    };
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
    const atoms = [
      '0',
      '-0',
      '1',
      '-12',
      '3.25',
      '1e3',
      '2E-2',
      '0.5e+1',
      'true',
      'false',
      'null',
      '""',
      '"a b"',
    ];
    const value = (depth: number): string => {
      const r = random();
      if (depth > 2 || r < 0.6) return pick(atoms);
      if (r < 0.8)
        return `[${Array.from({ length: Math.floor(random() * 3) }, () => value(depth + 1)).join(',')}]`;
      return object(depth + 1);
    };
    const object = (depth: number): string =>
      `{${Array.from({ length: Math.floor(random() * 4) }, () => `"${pick(['a', 'temp', 'b', 'a'])}":${value(depth)}`).join(',')}}`;
    const noise = [' ', ',', ':', '"', '{', '}', '[', ']', '0', '.', 'e', '-', '\\', '\n', 'x'];
    let scanned = 0;
    for (let n = 0; n < 20_000; n++) {
      let text = object(0);
      // a third are damaged: one character replaced, inserted or removed
      if (random() < 0.34) {
        const at = Math.floor(random() * text.length);
        const r = random();
        text =
          r < 0.33
            ? text.slice(0, at) + pick(noise) + text.slice(at + 1)
            : r < 0.66
              ? text.slice(0, at) + pick(noise) + text.slice(at)
              : text.slice(0, at) + text.slice(at + 1);
      }
      const bytes = Buffer.from(text);
      if (PayloadFields.scan(bytes)) scanned++;
      agrees(bytes);
      agrees(bytes, 'temp');
    }
    expect(scanned).toBeGreaterThan(12_000);
  });

  it('reads what JSON.parse reads when told the field in advance (duplicates: the last one)', () => {
    for (const [text, hint] of [
      ['{"dup":1,"dup":2}', 'dup'],
      ['{"temp":1,"x":2,"temp":"t\\u00e9"}', 'temp'],
      ['{"temp":[1,{"temp":5}]}', 'temp'],
      ['{"nested":{"temp":99}}', 'temp'],
      ['{"tem":1,"temps":2}', 'temp'],
      ['{}', 'temp'],
    ] as const) {
      const bytes = Buffer.from(text);
      expect(PayloadFields.scan(bytes, hint)).toBeDefined();
      agrees(bytes, hint);
    }
  });

  it('agrees with JSON.parse on generated objects, with and without a hint (fast-check)', () => {
    fc.assert(
      fc.property(objectText, fc.constantFrom(undefined, 'temp', 'a', 'missing'), (text, hint) => {
        const bytes = Buffer.from(text);
        expect(PayloadFields.scan(bytes, hint), text).toBeDefined();
        agrees(bytes, hint);
      }),
      { numRuns: 2_000 },
    );
  });

  it('agrees with JSON.parse on damaged objects, with a hint (fast-check)', () => {
    const noise = fc.constantFrom(
      ' ',
      ',',
      ':',
      '"',
      '{',
      '}',
      '[',
      ']',
      '0',
      '.',
      'e',
      '-',
      '\\',
      '\n',
      'x',
    );
    fc.assert(
      fc.property(objectText, fc.nat(), noise, fc.constantFrom(0, 1, 2), (text, n, char, how) => {
        const at = n % (text.length + 1);
        const damaged =
          how === 0
            ? text.slice(0, at) + char + text.slice(at + 1)
            : how === 1
              ? text.slice(0, at) + char + text.slice(at)
              : text.slice(0, at) + text.slice(at + 1);
        agrees(Buffer.from(damaged), 'temp');
      }),
      { numRuns: 3_000 },
    );
  });

  it('gives a condition the same answer as the parsed payload', () => {
    const condition = compileCondition('temp > 90 and state == "running" and sensor.ok');
    for (const text of [
      '{"temp":95,"state":"running","sensor":{"ok":true}}',
      '{"temp":95,"state":"running","sensor":{"ok":false}}',
      '{"temp":"95","state":"running"}',
      '{"temp":[95],"state":"running"}',
      '{"state":"running"}',
    ]) {
      const bytes = Buffer.from(text);
      expect(condition(PayloadFields.scan(bytes)!)).toEqual(condition(JSON.parse(text)));
    }
  });
});
