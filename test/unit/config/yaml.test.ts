// biome-ignore-all lint/suspicious/noTemplateCurlyInString: the strings are YAML with ${VAR} references on purpose
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MAX_CONFIG_FILE_BYTES, parseYaml, readTextFile } from '../../../src/config/yaml.js';
import { isBridgeError } from '../../../src/errors.js';

const TEXT = ['a:', '  b: 1', '  list:', '    - x', '    - { y: 2 }', 'empty:', 'flow: { k: v }', ''].join(
  '\n',
);

describe('YamlSource.locate', () => {
  const { source } = parseYaml('f.yaml', TEXT);

  it.each([
    [['a', 'b'], false, 2, 6, 'a scalar value'],
    [['a', 'b'], true, 2, 3, 'a key'],
    [['a', 'list', 0], false, 4, 7, 'a list item'],
    [['a', 'list', 1, 'y'], false, 5, 12, 'a value in a flow map inside a list'],
    [['a', 'missing'], false, 2, 3, 'a missing key: the map that should hold it'],
    [['a', 'list', 9], false, 4, 5, 'a missing list item: the list'],
    [['empty'], false, 6, 1, 'an empty value: its key'],
    [['flow', 'k'], false, 7, 12, 'a flow map value'],
    [[], false, 1, 1, 'the document'],
  ] as const)('finds %j (atKey %s) at %i:%i: %s', (path, atKey, line, col, _what) => {
    expect(source.locate(path, atKey)).toEqual({ line, col });
  });
});

describe('parseYaml', () => {
  it('reports a syntax error with its line and column and no value', () => {
    const parsed = parseYaml('f.yaml', 'mqtt:\n  port: 1883\n host: 0.0.0.0\n');
    expect(parsed.value).toBeUndefined();
    expect(parsed.issues).toHaveLength(1);
    expect(parsed.issues[0]).toMatchObject({ file: 'f.yaml', line: 3, col: 1 });
    expect(parsed.issues[0]?.message).toMatch(/^YAML syntax error: /);
  });

  it('reports a duplicate key as an error', () => {
    const parsed = parseYaml('f.yaml', 'a: 1\na: 2\n');
    expect(parsed.issues[0]).toMatchObject({ line: 2, col: 1 });
  });

  it('reads an empty file as null', () => {
    expect(parseYaml('f.yaml', '')).toMatchObject({ value: null, issues: [] });
  });
});

describe('environment interpolation', () => {
  const env = { HOST: 'smsc.example.net', PORT: '2776', EMPTY: '', SECRET: '1234' };
  it.each([
    ['host: ${HOST}', { host: 'smsc.example.net' }, 'a set variable'],
    ['url: "smpp://${HOST}:${PORT}"', { url: 'smpp://smsc.example.net:2776' }, 'two variables in one string'],
    ['p: ${MISSING:-fallback}', { p: 'fallback' }, 'a default for an unset variable'],
    ['p: ${EMPTY:-fallback}', { p: 'fallback' }, 'a default for an empty variable, as in a shell'],
    ['port: ${PORT}', { port: 2776 }, 'a plain scalar that is one reference takes the type of the value'],
    ['port: ${MISSING:-1883}', { port: 1883 }, 'a typed default'],
    ['password: "${SECRET}"', { password: '1234' }, 'a quoted scalar stays a string'],
    ['text: $${HOST}', { text: '${HOST}' }, '$${ writes a literal ${'],
    ['${HOST}: 1', { '${HOST}': 1 }, 'keys are left alone'],
    ['cost: $5', { cost: '$5' }, 'a lone $ is left alone'],
  ])('%s -> %j (%s)', (text, value, _what) => {
    const parsed = parseYaml('f.yaml', text, { env });
    expect(parsed.issues).toEqual([]);
    expect(parsed.value).toEqual(value);
  });

  it('leaves ${VAR} as it is without an environment', () => {
    expect(parseYaml('f.yaml', 'p: ${HOST}').value).toEqual({ p: '${HOST}' });
  });

  it('locates a missing variable without a default at its scalar', () => {
    const parsed = parseYaml('f.yaml', 'smpp:\n  password: "${SMPP_PASSWORD}"\n', { env: {} });
    expect(parsed.issues).toEqual([
      {
        file: 'f.yaml',
        line: 2,
        col: 13,
        path: 'smpp.password',
        message:
          'environment variable SMPP_PASSWORD is not set (write ${SMPP_PASSWORD:-default} for a default)',
      },
    ]);
  });

  it('reports an unfinished reference', () => {
    const parsed = parseYaml('f.yaml', 'list:\n  - "${HOST"\n', { env });
    expect(parsed.issues).toMatchObject([{ line: 2, col: 5, path: 'list.0' }]);
    expect(parsed.issues[0]?.message).toMatch(/^unfinished/);
  });
});

describe('readTextFile size limit (issue 11)', () => {
  it('refuses a file over MAX_CONFIG_FILE_BYTES before reading it, with a clear error', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sms-bridge-yaml-'));
    try {
      const big = join(dir, 'rules.yaml');
      writeFileSync(big, 'rules: []\n');
      truncateSync(big, 50 * 1024 * 1024); // sparse: 50 MB without writing them
      let error: unknown;
      try {
        readTextFile(big);
      } catch (err) {
        error = err;
      }
      expect(isBridgeError(error, 'ERR_CONFIG_READ')).toBe(true);
      expect((error as Error).message).toMatch(/52428800 bytes.*at most 1048576 bytes/);
      const fits = join(dir, 'ok.yaml');
      writeFileSync(fits, `# ${'x'.repeat(MAX_CONFIG_FILE_BYTES - 3)}\n`);
      expect(readTextFile(fits)).toHaveLength(MAX_CONFIG_FILE_BYTES);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
