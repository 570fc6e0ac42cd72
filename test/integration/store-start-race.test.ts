import { spawn } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { MIGRATIONS } from '../../src/store/sqlite/migrations.js';
import { tempDir } from '../helpers/harness.js';

const STORE = join(import.meta.dirname, '../../dist/store/sqlite/sqlite-store.js');

// One process: waits for the shared start time, opens the store (migrations included), closes it.
const CHILD = `
const [url, path, at] = process.argv.slice(1);
const { SqliteStore } = await import(url);
while (Date.now() < Number(at)) {}
const store = new SqliteStore({ path });
try {
  await store.start();
  await store.stop();
  process.stdout.write('ok');
} catch (err) {
  process.stdout.write(String(err.message));
  process.exitCode = 1;
}
`;

function run(path: string, at: number): Promise<{ code: number | null; out: string }> {
  const child = spawn(
    process.execPath,
    ['--input-type=module', '-e', CHILD, pathToFileURL(STORE).href, path, String(at)],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, out })));
}

/**
 * Instances of a cluster on one SQLite file start at once on an empty database: each migration runs once, and
 * every instance starts. (Found by test/cluster/state-topic.test.ts on a loaded machine: the second instance
 * stopped with "table sms already exists".)
 */
describe('SQLite store: instances starting at once on one new file', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it('every one starts, and the schema is migrated once', async () => {
    expect(existsSync(STORE), 'run `npm run build` first').toBe(true);
    for (let round = 0; round < 3; round++) {
      const dir = tempDir();
      dirs.push(dir);
      const path = join(dir, 'bridge.db');
      // the processes load their modules first, then all open the file at the same moment
      const at = Date.now() + 1500;
      const results = await Promise.all(Array.from({ length: 6 }, () => run(path, at)));
      expect(results.map((r) => r.out)).toEqual(Array(6).fill('ok'));
      expect(results.every((r) => r.code === 0)).toBe(true);
      const db = new Database(path, { readonly: true });
      expect(db.pragma('user_version', { simple: true })).toBe(MIGRATIONS.length);
      db.close();
    }
  }, 60_000);
});
