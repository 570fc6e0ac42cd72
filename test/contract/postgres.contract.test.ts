import { afterAll, beforeAll } from 'vitest';
import { PostgresStore } from '../../src/store/postgres/postgres-store.js';
import { type PostgresServer, startPostgres } from '../helpers/postgres.js';
import { storeContract } from './store-contract.js';

let server: PostgresServer;
beforeAll(async () => {
  server = await startPostgres();
}, 120_000);
afterAll(async () => {
  await server?.stop();
});

storeContract('PostgreSQL', () => {
  let url: string | undefined;
  const open = async () => {
    url ??= await server.createDatabase();
    const store = new PostgresStore({ url, poolSize: 5 });
    await store.start();
    return store;
  };
  return {
    open,
    reopen: open,
    cleanup: async () => {
      if (url) await server.dropDatabase(url);
    },
  };
});
