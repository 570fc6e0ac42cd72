import { PostgresStore } from '../../src/store/postgres/postgres-store.js';
import { usePostgres } from '../helpers/postgres.js';
import { storeContract } from './store-contract.js';

const server = usePostgres();

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
