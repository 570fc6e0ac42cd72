import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runBundle } from '../../../src/cli/code-cache.js';

// two bundles of the same length: V8's own check of a code cache against its source compares lengths only
const OLD = "exports.answer = function () { return 'old'; }; exports.dir = __dirname;\n";
const NEW = "exports.answer = function () { return 'new'; }; exports.dir = __dirname;\n";

interface Answer {
  answer(): string;
  dir: string;
}

describe('runBundle', () => {
  let dir: string;
  let file: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'sms-bridge-cache-'));
    file = path.join(dir, 'bridge.cjs');
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('runs the bundle as CommonJS, writes the cache once asked and uses it next time', () => {
    writeFileSync(file, OLD);
    const first = runBundle<Answer>(file);
    expect(first.exports.answer()).toBe('old');
    expect(first.exports.dir).toBe(dir);
    expect(first.cacheUsed).toBe(false);
    expect(existsSync(`${file}.cache`)).toBe(false);
    first.saveCache();
    expect(existsSync(`${file}.cache`)).toBe(true);
    const second = runBundle<Answer>(file);
    expect(second.cacheUsed).toBe(true);
    expect(second.exports.answer()).toBe('old');
  });

  it('never runs a cache made from another bundle of the same length', () => {
    writeFileSync(file, OLD);
    runBundle<Answer>(file).saveCache();
    writeFileSync(file, NEW);
    const run = runBundle<Answer>(file);
    expect(run.cacheUsed).toBe(false);
    expect(run.exports.answer()).toBe('new');
    run.saveCache();
    expect(runBundle<Answer>(file).cacheUsed).toBe(true);
  });

  it.each([
    [
      'a flipped byte in the data',
      (data: Buffer) => Buffer.from(data.map((b, i) => (i === data.length - 10 ? b ^ 1 : b))),
    ],
    ['cut short', (data: Buffer) => data.subarray(0, data.length >> 1)],
    ['empty', () => Buffer.alloc(0)],
    ['foreign', () => Buffer.from('not a cache at all\n')],
  ])('ignores a cache %s, runs the bundle and replaces the cache', (_name, damage) => {
    writeFileSync(file, OLD);
    runBundle<Answer>(file).saveCache();
    writeFileSync(`${file}.cache`, damage(readFileSync(`${file}.cache`)));
    const run = runBundle<Answer>(file);
    expect(run.cacheUsed).toBe(false);
    expect(run.exports.answer()).toBe('old');
    run.saveCache();
    expect(runBundle<Answer>(file).cacheUsed).toBe(true);
  });

  it('runs without a cache where none can be written', () => {
    writeFileSync(file, OLD);
    // a directory in the cache's place: reading it and renaming a file onto it both fail, even as root
    mkdirSync(`${file}.cache`);
    writeFileSync(path.join(`${file}.cache`, 'keep'), '');
    const run = runBundle<Answer>(file);
    expect(() => run.saveCache()).not.toThrow();
    expect(run.exports.answer()).toBe('old');
    expect(readdirSync(dir).sort()).toEqual(['bridge.cjs', 'bridge.cjs.cache']);
  });
});

describe('the bundle npm start runs (dist/bridge.cjs)', () => {
  it('runs the modules of the message paths at their top level, not inside lazy initialisers', () => {
    // a dynamic import in the bundle's graph makes the bundler wrap every module it reaches in an `init_*`
    // function whose constants become variables: ~3% more CPU per message at ingest (BENCHMARKS.md, session 6)
    const bundle = path.join(import.meta.dirname, '../../../dist/bridge.cjs');
    expect(existsSync(bundle), 'dist/ is built by `npm test` (pretest); run `npm run build` first').toBe(
      true,
    );
    const code = readFileSync(bundle, 'utf8');
    for (const module of [
      'app',
      'intake',
      'embedded',
      'engine',
      'condition',
      'payload_fields',
      'alert_engine',
      'sender',
      'write_batcher',
      'session_requests',
    ]) {
      expect(code, `a lazy initialiser for ${module}`).not.toMatch(new RegExp(`\\binit_${module}\\s*=`));
    }
    // the wrapping exists in this bundler's output at all (the test would pass for nothing otherwise): the HTTP
    // server is loaded on demand
    expect(code).toMatch(/\binit_server\s*=/);
  });
});
