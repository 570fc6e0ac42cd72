import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { usePostgres } from '../helpers/postgres.js';

const root = join(import.meta.dirname, '../..');
const runner = join(import.meta.dirname, 'postgres-broker-persistence.abstract.mjs');
/** The runner loads these from dist/ (node:test cannot load TypeScript on Node 20). */
const built: Array<[string, string]> = [
  ['src/broker/persistence.ts', 'dist/broker/persistence.js'],
  ['src/store/postgres/broker-state.ts', 'dist/store/postgres/broker-state.js'],
  ['src/store/postgres/postgres-store.ts', 'dist/store/postgres/postgres-store.js'],
  ['src/store/postgres/migrations.ts', 'dist/store/postgres/migrations.js'],
];

const server = usePostgres();

it("passes aedes-persistence's abstract suite (node:test) on PostgreSQL", async () => {
  for (const [source, output] of built) {
    const stale =
      !existsSync(join(root, output)) ||
      statSync(join(root, output)).mtimeMs < statSync(join(root, source)).mtimeMs;
    expect(stale, `${output} is missing or older than ${source}: run \`npm run build\` (npm test does)`).toBe(
      false,
    );
  }
  const url = new URL(await server.createDatabase());
  url.pathname = '/postgres';
  const run = spawnSync(process.execPath, ['--test', '--test-reporter=tap', runner], {
    cwd: root,
    encoding: 'utf8',
    timeout: 240_000,
    env: { ...process.env, PG_ADMIN_URL: url.toString() },
  });
  const count = (name: string) => Number(new RegExp(`^# ${name} (\\d+)$`, 'm').exec(run.stdout)?.[1] ?? -1);
  expect(run.status, `${run.stdout.slice(-4000)}\n${run.stderr}`).toBe(0);
  expect(count('tests')).toBeGreaterThan(0);
  expect(count('pass')).toBe(count('tests'));
  expect(count('fail')).toBe(0);
}, 300_000);
