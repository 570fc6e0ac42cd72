import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseDocument, stringify } from 'yaml';
import { fastYamlValue } from '../../../src/config/yaml-fast.js';

/** What `yaml` makes of a text, as parseYaml reads it: the value, or undefined when it reports an error. */
function slowValue(text: string): { value: unknown } | undefined {
  const doc = parseDocument(text, { prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) return undefined;
  try {
    return { value: doc.toJS({ maxAliasCount: 100 }) };
  } catch {
    return undefined;
  }
}

/** The fast path either declines or gives exactly what `yaml` gives (and never takes what `yaml` refuses). */
function expectAgrees(text: string): void {
  const fast = fastYamlValue(text);
  if (fast === undefined) return;
  const slow = slowValue(text);
  expect(slow, `yaml refuses what the fast path took: ${JSON.stringify(text)}`).toBeDefined();
  expect(fast.value).toStrictEqual(slow?.value);
}

const RICH = `# a comment
plain: multi word value
folded_plain: first line
  continued line

  new paragraph
quoted: "esc \\t \\" \\\\ \\x41 \\u00e9 \\U0001F600 \\
  continued"
single: 'it''s
  folded'
literal: |
  line 1
    indented
  line 3

keep: |+
  kept

folded: >-
  folded
  text

  para
flow: { a: 1, b: [x, y, { c: d }], "q": 'r', e: , ? f : g }
flowseq: [ a, b: c, [1, 2.5, -3, 0x1F, 0o17, .inf, -.Inf, .nan, 1e3, +12, -0, 0.0, 1e999] ]
nulls: [~, null, Null, NULL, '']
bools: [true, True, TRUE, false, False, FALSE, yes, no, on, off, y, n]
numbers: [1_000, 0b11, 012, 1., .5, +.5, 1.e5, 6.02E+23, 08, 0x, 0o8, +0x1F]
dates: [2024-01-01, 12:30:45, 1:20]
strings: [ "123", '1.5', a:b, a#b, "a # b", -a, ?a ]
? explicit key
: explicit value
list:
- a
- - nested
  - list
-   key: v
    other: w
"quoted key": 1
url: http://example.com:8080/path?x=1#frag
merge_is_a_key: { <<: { a: 1 } }
unicode: héllo → wörld
...
`;

const REPO = join(import.meta.dirname, '../../..');
const yamlFiles = (dir: string): string[] =>
  readdirSync(join(REPO, dir), { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => join(REPO, dir, f));
const FILES = [...yamlFiles('config'), ...yamlFiles('devices'), ...yamlFiles('test/fixtures')];

describe('fastYamlValue', () => {
  it('reads a file that uses most of YAML as `yaml` does', () => {
    expect(fastYamlValue(RICH)).toBeDefined();
    expectAgrees(RICH);
  });

  it.each(FILES.map((f) => [f.slice(REPO.length + 1), f]))('agrees with `yaml` on %s', (_name, file) => {
    expectAgrees(readFileSync(file, 'utf8'));
  });

  it.each([
    [
      'a: 1e999',
      { a: Number.POSITIVE_INFINITY },
      "a float past the range is Infinity, as `yaml`'s core schema",
    ],
    ['a: [0o17, 0x1F, +12, -0, .5, 1.]', { a: [15, 31, 12, -0, 0.5, 1] }, 'core-schema numbers'],
    [
      'a: [0b11, 1_000, yes, 2024-01-01]',
      { a: ['0b11', '1_000', 'yes', '2024-01-01'] },
      'YAML 1.1 forms are strings',
    ],
    ['<<: { a: 1 }', { '<<': { a: 1 } }, 'no merge keys in YAML 1.2'],
  ])('%s -> %j (%s)', (text, value, _what) => {
    expect(fastYamlValue(text)).toStrictEqual({ value });
    expectAgrees(text);
  });

  it.each([
    ['an empty file (yaml: null)', ''],
    ['no document', '# only a comment\n'],
    ['two documents', 'a: 1\n---\nb: 2\n'],
    ['a directive (YAML 1.1 reads yes as true)', '%YAML 1.1\n---\na: yes\n'],
    ['an explicit tag', 'a: !!str 1'],
    ['an unknown tag', 'a: !custom x'],
    ['an anchor and an alias (yaml bounds alias expansion)', 'a: &x [1]\nb: *x\n'],
    ['a key that is not a string', '1: a'],
    ['a null key', 'null: a'],
    ['a collection as a key', '? [a]\n: 1'],
    ['a __proto__ key', '__proto__: { polluted: true }'],
    ["a key over `yaml`'s 1,024-character limit", `${'k'.repeat(1100)}: 1`],
    ['a tab next to indentation, which js-yaml takes and yaml refuses', '- ? k\n  \t: v\n'],
    ['any tab', 'a: "tab\there"'],
    ['a lone carriage return: a line break in js-yaml, text in yaml', 'a: 1\rb: 2'],
    ["an indentation indicator, read by the spec in js-yaml (' !') and not in yaml ('!')", '|1-\n !\n'],
    ['an escaped line break followed by an empty line (js-yaml and yaml differ)', 'q: "a \\\n  \n  b"\n'],
    ['a byte order mark after the start (yaml drops it, js-yaml keeps it)', '# c\n\uFEFFtype: valve\n'],
    ['a YAML 1.1 line break (NEL)', 'a: x\u0085b'],
    ['two document end markers (one document for js-yaml, two for yaml)', 'a: 1\n...\n...\n'],
    ['an 8-digit escape past U+10FFFF (js-yaml takes it)', 'a: "\\U1001F600"\n'],
    ['a duplicate key', 'a: 1\na: 2'],
    ['a syntax error', 'a:\n  b: 1\n c: 2'],
  ])('declines %s', (_what, text) => {
    expect(fastYamlValue(text)).toBeUndefined();
  });

  it('agrees with `yaml` on any value written in any style', () => {
    const key = fc.oneof(
      fc.string(),
      fc.constantFrom('true', '1', 'null', '~', '0x1F', '- a', 'a: b', '#', ''),
    );
    const value = fc.letrec((tie) => ({
      node: fc.oneof(
        { depthSize: 'small' },
        fc.oneof(fc.string(), fc.double(), fc.integer(), fc.boolean(), fc.constant(null)),
        fc.array(tie('node'), { maxLength: 4 }),
        fc.dictionary(key, tie('node'), { maxKeys: 4 }),
      ),
    })).node;
    const style = fc.record({
      collectionStyle: fc.constantFrom('any', 'block', 'flow'),
      defaultStringType: fc.constantFrom(
        'PLAIN',
        'QUOTE_DOUBLE',
        'QUOTE_SINGLE',
        'BLOCK_LITERAL',
        'BLOCK_FOLDED',
      ),
      indent: fc.integer({ min: 1, max: 4 }),
      lineWidth: fc.constantFrom(0, 20, 80),
    });
    fc.assert(
      fc.property(value, style, (v, options) => {
        expectAgrees(stringify(v, options as never));
      }),
      { numRuns: 1000 },
    );
  });

  it('never takes a broken file that `yaml` refuses (mutations of valid files)', () => {
    const seeds = [RICH, ...FILES.map((f) => readFileSync(f, 'utf8'))];
    const pieces = [
      ...': -\n#"\'{}[],|>&*!?%@`~\\.1a',
      '  ',
      '\n  ',
      '\n- ',
      ': ',
      '---',
      '...',
      '\r\n',
      '\r',
      '\t',
      '|2',
      '\uFEFF',
      '\u0085',
      '\u2028',
      'é',
    ];
    const edit = fc.record({
      at: fc.nat(),
      op: fc.constantFrom('insert', 'delete', 'replace'),
      piece: fc.constantFrom(...pieces),
    });
    fc.assert(
      fc.property(
        fc.nat({ max: seeds.length - 1 }),
        fc.array(edit, { minLength: 1, maxLength: 4 }),
        (i, edits) => {
          let text = seeds[i] ?? '';
          for (const { at, op, piece } of edits) {
            const p = at % (text.length + 1);
            if (op === 'insert') text = text.slice(0, p) + piece + text.slice(p);
            else if (op === 'delete') text = text.slice(0, p) + text.slice(p + 1);
            else text = text.slice(0, p) + piece + text.slice(p + 1);
          }
          expectAgrees(text);
        },
      ),
      { numRuns: 1500 },
    );
  });
});
