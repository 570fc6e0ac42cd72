// aedes-persistence's own abstract suite (node:test) run against BrokerPersistence on the PostgreSQL store, built
// into dist/ by `npm run build`. Spawned by postgres-broker-persistence.test.ts with PG_ADMIN_URL set to a
// server it started; each persistence gets a new database.
import { createRequire } from 'node:module';
import { test } from 'node:test';
import pg from 'pg';
import { BrokerPersistence } from '../../dist/broker/persistence.js';
import { silentLogger } from '../../dist/logger.js';
import { PostgresStore } from '../../dist/store/postgres/postgres-store.js';

const abstractPersistence = createRequire(import.meta.url)('aedes-persistence/abstract.js');
const admin = process.env.PG_ADMIN_URL;
if (!admin) throw new Error('PG_ADMIN_URL is not set');
let n = 0;

async function newDatabase() {
  const name = `broker_${process.pid}_${n++}`;
  const client = new pg.Client(admin);
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${name}`);
  } finally {
    await client.end();
  }
  const url = new URL(admin);
  url.pathname = `/${name}`;
  return url.toString();
}

abstractPersistence({
  test,
  testAsync: true,
  persistence: async () => {
    const store = new PostgresStore({ url: await newDatabase(), poolSize: 2 });
    await store.start();
    const persistence = new BrokerPersistence({ repository: store.brokerState(), logger: silentLogger() });
    const destroy = persistence.destroy.bind(persistence);
    persistence.destroy = async () => {
      await destroy();
      await store.stop();
    };
    return persistence;
  },
});
