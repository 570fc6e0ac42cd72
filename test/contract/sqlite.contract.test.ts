import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { storeContract } from './store-contract.js';

storeContract('SQLite', () => {
  const dir = mkdtempSync(join(tmpdir(), 'store-contract-'));
  const path = join(dir, 'bridge.db');
  const open = async () => {
    const store = new SqliteStore({ path });
    await store.start();
    return store;
  };
  return { open, reopen: open, cleanup: async () => rmSync(dir, { recursive: true, force: true }) };
});
