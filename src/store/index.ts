import type { Logger } from 'pino';
import { PostgresStore } from './postgres/postgres-store.js';
import { SqliteStore } from './sqlite/sqlite-store.js';
import type { Store } from './store.js';

export type * from './store.js';

/** The store `store:` in bridge.yaml describes: PostgreSQL when `url` is set, else the SQLite file at `path`. */
export function createStore(
  config: { path: string; synchronous: 'full' | 'normal'; url?: string | undefined; pool_size?: number },
  logger?: Logger,
): Store {
  if (config.url) {
    return new PostgresStore({
      url: config.url,
      poolSize: config.pool_size,
      ...(logger ? { logger: logger.child({ module: 'store' }) } : {}),
    });
  }
  return new SqliteStore({
    path: config.path,
    synchronous: config.synchronous,
    ...(logger ? { logger: logger.child({ module: 'store' }) } : {}),
  });
}
