import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expandGlobs } from '../../../src/config/glob.js';
import { isBridgeError } from '../../../src/errors.js';

describe('expandGlobs', () => {
  let cwd: string;
  beforeAll(() => {
    cwd = mkdtempSync(path.join(tmpdir(), 'glob-'));
    mkdirSync(path.join(cwd, 'rules/sub'), { recursive: true });
    for (const name of ['b.yaml', 'a.yaml', '.hidden.yaml', 'notes.txt', 'c.yml', 'sub/d.yaml']) {
      writeFileSync(path.join(cwd, 'rules', name), '');
    }
    writeFileSync(path.join(cwd, 'top.yaml'), '');
  });
  afterAll(() => rmSync(cwd, { recursive: true, force: true }));

  it.each([
    [['rules/*.yaml'], ['rules/a.yaml', 'rules/b.yaml'], 'sorted, no dotfiles, no subdirectories'],
    [['rules/?.yaml'], ['rules/a.yaml', 'rules/b.yaml'], '? matches one character'],
    [['rules/*.y*ml'], ['rules/a.yaml', 'rules/b.yaml', 'rules/c.yml'], 'several * in one name'],
    [['rules/.*.yaml'], ['rules/.hidden.yaml'], 'dotfiles when the pattern starts with a dot'],
    [
      ['rules/b.yaml', 'rules/*.yaml'],
      ['rules/b.yaml', 'rules/a.yaml'],
      'pattern order kept, duplicates removed',
    ],
    [['rules/sub/*.yaml'], ['rules/sub/d.yaml'], 'a nested directory'],
    [['*.yaml'], ['top.yaml'], 'the working directory itself'],
    [['missing/*.yaml'], [], 'a missing directory matches nothing'],
    [['rules/*.json'], [], 'no match'],
  ])('%j -> %j (%s)', (patterns, expected) => {
    expect(expandGlobs(patterns, cwd)).toEqual(expected);
  });

  it('throws ERR_CONFIG_READ for a file named without wildcards that does not exist', () => {
    expect(() => expandGlobs(['rules/nope.yaml'], cwd)).toThrow(
      expect.objectContaining({
        code: 'ERR_CONFIG_READ',
        message: expect.stringContaining('rules/nope.yaml'),
      }),
    );
  });

  it.each([['*/rules.yaml'], ['rules/**/*.yaml'], ['rules/[ab].yaml']])(
    'refuses the unsupported pattern %s with ERR_CONFIG_INVALID',
    (pattern) => {
      let error: unknown;
      try {
        expandGlobs([pattern], cwd);
      } catch (err) {
        error = err;
      }
      expect(isBridgeError(error, 'ERR_CONFIG_INVALID')).toBe(true);
    },
  );
});
