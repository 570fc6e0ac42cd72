import { SqliteStore } from './sqlite/sqlite-store.js';
import type { Store } from './store.js';

export type * from './store.js';

/** The store `store:` in bridge.yaml describes (SQLite today; PostgreSQL plugs in here). */
export function createStore(config: { path: string; synchronous: 'full' | 'normal' }): Store {
  return new SqliteStore({ path: config.path, synchronous: config.synchronous });
}
