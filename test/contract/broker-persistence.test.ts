import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';

const root = join(import.meta.dirname, '../..');
const runner = join(import.meta.dirname, 'broker-persistence.abstract.mjs');
/** The runner loads these from dist/ (node:test cannot load TypeScript on Node 20). */
const built: Array<[string, string]> = [
  ['src/broker/persistence.ts', 'dist/broker/persistence.js'],
  ['src/store/sqlite/broker-state.ts', 'dist/store/sqlite/broker-state.js'],
  ['src/store/sqlite/write-batcher.ts', 'dist/store/sqlite/write-batcher.js'],
];

it("passes aedes-persistence's abstract suite (node:test) on SQLite", () => {
  for (const [source, output] of built) {
    const stale =
      !existsSync(join(root, output)) ||
      statSync(join(root, output)).mtimeMs < statSync(join(root, source)).mtimeMs;
    expect(stale, `${output} is missing or older than ${source}: run \`npm run build\` (npm test does)`).toBe(
      false,
    );
  }
  const run = spawnSync(process.execPath, ['--test', '--test-reporter=tap', runner], {
    cwd: root,
    encoding: 'utf8',
    timeout: 120_000,
  });
  const count = (name: string) => Number(new RegExp(`^# ${name} (\\d+)$`, 'm').exec(run.stdout)?.[1] ?? -1);
  expect(run.status, `${run.stdout.slice(-4000)}\n${run.stderr}`).toBe(0);
  expect(count('tests')).toBeGreaterThan(0);
  expect(count('pass')).toBe(count('tests'));
  expect(count('fail')).toBe(0);
}, 150_000);
