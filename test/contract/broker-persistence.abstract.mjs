// aedes-persistence's own abstract suite (node:test: it uses t.plan, t.assert, t.diagnostic) run against the
// SQLite-backed BrokerPersistence, built into dist/ by `npm run build`. Spawned by broker-persistence.test.ts.
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import Database from 'better-sqlite3';
import { BrokerPersistence } from '../../dist/broker/persistence.js';
import { silentLogger } from '../../dist/logger.js';
import { SqliteBrokerStateRepository } from '../../dist/store/sqlite/broker-state.js';

const abstractPersistence = createRequire(import.meta.url)('aedes-persistence/abstract.js');
const dir = mkdtempSync(join(tmpdir(), 'sms-bridge-abstract-'));
let n = 0;
after(() => rmSync(dir, { recursive: true, force: true }));

abstractPersistence({
  test,
  testAsync: true,
  persistence: () => {
    const db = new Database(join(dir, `broker-${n++}.db`));
    db.pragma('journal_mode = WAL');
    const persistence = new BrokerPersistence({
      repository: new SqliteBrokerStateRepository(db),
      logger: silentLogger(),
    });
    const destroy = persistence.destroy.bind(persistence);
    persistence.destroy = async () => {
      await destroy();
      db.close();
    };
    return persistence;
  },
});
