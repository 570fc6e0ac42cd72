import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { jsonSchemaFiles, jsonSchemaOf, SCHEMA_FILES } from '../../../src/config/json-schema.js';

const root = path.resolve(import.meta.dirname, '../../..');
const read = (file: string) => readFileSync(path.join(root, file), 'utf8');

describe('JSON Schema of the edited files', () => {
  it.each(jsonSchemaFiles())(
    'schemas/$file is what the zod schemas generate (npm run schemas)',
    ({ file, text }) => {
      expect(read(`schemas/${file}`)).toBe(text);
    },
  );

  const examples = [
    { file: 'config/bridge.yaml', schema: 'bridge' },
    { file: 'config/rules/pumps.yaml', schema: 'rules' },
    { file: 'devices/pump.yaml', schema: 'devices' },
  ] as const;

  it.each(examples)('$file names its schema and is valid under it', ({ file, schema }) => {
    const text = read(file);
    const first = text.split('\n')[0];
    const target = path.relative(path.dirname(file), `schemas/${SCHEMA_FILES[schema]}`);
    expect(first).toBe(`# yaml-language-server: $schema=${target}`);
    const validate = new Ajv({ strict: false }).compile(jsonSchemaOf(schema));
    expect(validate(parse(text)), JSON.stringify(validate.errors)).toBe(true);
  });

  it.each([
    ['a typo in a key', { mqtt: { prot: 1883 } }],
    [
      'a bad duration',
      { smpp: { connections: [{ id: 'a', url: 'smpp://x:1', system_id: 'b' }], max_age: '5 min' } },
    ],
    ['a port out of range', { mqtt: { tls: { port: 70000, cert: 'c', key: 'k' } } }],
  ])('an editor underlines %s', (_name, value) => {
    const validate = new Ajv({ strict: false }).compile(jsonSchemaOf('bridge'));
    expect(
      validate({ smpp: { connections: [{ id: 'a', url: 'smpp://x:1', system_id: 'b' }] }, ...value }),
    ).toBe(false);
  });

  it('accepts durations as text or milliseconds, and `simulator: true`', () => {
    const validate = new Ajv({ strict: false }).compile(jsonSchemaOf('bridge'));
    const smpp = { connections: [{ id: 'a', url: 'smpp://x:1', system_id: 'b', response_timeout: 1500 }] };
    expect(
      validate({ simulator: true, smpp: { ...smpp, max_age: '1h30m' } }),
      JSON.stringify(validate.errors),
    ).toBe(true);
  });
});
