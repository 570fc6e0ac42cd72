import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { parseBridgeConfig } from '../../src/config/load-bridge.js';
import { isBridgeError } from '../../src/errors.js';
import { createStore } from '../../src/store/index.js';
import { MIGRATIONS } from '../../src/store/postgres/migrations.js';
import { PostgresStore } from '../../src/store/postgres/postgres-store.js';
import type { Store } from '../../src/store/store.js';
import { usePostgres } from '../helpers/postgres.js';

/** What PostgreSQL needs beyond the Store contract: several instances on one database, its transaction rules. */
describe('PostgreSQL store', () => {
  const server = usePostgres();
  let url: string;
  const stores: Store[] = [];
  afterEach(async () => {
    for (const s of stores.splice(0)) await s.stop();
    await server.dropDatabase(url);
  });
  const open = async (poolSize = 3) => {
    const store = new PostgresStore({ url, poolSize });
    stores.push(store);
    await store.start();
    return store;
  };

  it('migrates a new database once when three instances start at once', async () => {
    url = await server.createDatabase();
    await Promise.all([open(), open(), open()]);
    const client = new pg.Client(url);
    await client.connect();
    try {
      const { rows } = await client.query('SELECT version FROM schema_migration ORDER BY version');
      expect(rows.map((r) => r.version)).toEqual(MIGRATIONS.map((_, i) => i + 1));
    } finally {
      await client.end();
    }
  });

  it('does not report a transaction as committed when a statement in it failed and fn went on', async () => {
    url = await server.createDatabase();
    const store = await open();
    const result = store.transaction(async (tx) => {
      await tx.outbox.enqueue([
        {
          to: '+447700900001',
          text: 'a',
          priority: 'normal',
          source: 'test',
          expiresAt: Date.now() + 60_000,
        },
      ]);
      // the second insert of one request id fails; PostgreSQL aborts the transaction there
      const command = {
        requestId: 'r1',
        deviceId: 'd',
        command: 'stop',
        from: '+447700900001',
        topic: 't',
        payload: '{}',
        createdAt: 1,
      };
      await tx.inbound.addCommand(command);
      await tx.inbound.addCommand(command).catch(() => undefined);
      return 'done';
    });
    await expect(result).rejects.toSatisfy((err) => isBridgeError(err, 'ERR_STORE'));
    expect(await store.listSms()).toEqual([]);
    // the pooled connection is clean for the next transaction
    await store.transaction((tx) => tx.kv.put('s', 'k', Buffer.from('v'), 1));
    expect(await store.loadKv('s')).toHaveLength(1);
  });

  it('names store.url without its password when it cannot connect', async () => {
    url = await server.createDatabase();
    const wrong = new URL(url);
    wrong.password = 'not-the-password-0123';
    const store = new PostgresStore({ url: wrong.toString() });
    const err = await store.start().catch((e: unknown) => e);
    expect(isBridgeError(err, 'ERR_STORE')).toBe(true);
    expect((err as Error).message).toContain('store.url=postgres://postgres:***@127.0.0.1');
    expect((err as Error).message).not.toContain('not-the-password-0123');
    expect(await store.healthy()).toBe(false);
  });

  it('is chosen by store.url (or SMS_BRIDGE_CONFIG_STORE_URL), which leaves store.path unused', async () => {
    url = await server.createDatabase();
    const yaml = (store: string) =>
      `smpp:\n  connections:\n    - { id: a, url: smpp://h:2775, system_id: s, password: p }\nstore: ${store}\n`;
    const config = parseBridgeConfig(yaml('{ path: /nonexistent/dir/bridge.db }'), {
      env: { SMS_BRIDGE_CONFIG_STORE_URL: url },
    });
    const store = createStore(config.store);
    stores.push(store);
    await store.start();
    expect(store).toBeInstanceOf(PostgresStore);
    expect(await store.healthy()).toBe(true);
    expect(() => parseBridgeConfig(yaml(`{ url: '${url}', pool_size: 101 }`), { env: {} })).toThrow(
      /pool_size/,
    );
    const bad = (() => {
      try {
        parseBridgeConfig(yaml('{ url: "mysql://u:secretpw@h/db" }'), { env: {} });
      } catch (err) {
        return err as Error;
      }
    })();
    expect(bad?.message).toMatch(/store\.url/);
    expect(bad?.message).not.toContain('secretpw');
  });

  it("keeps the embedded broker's state, written in call order, across a restart", async () => {
    url = await server.createDatabase();
    const packet = (topic: string, payload: string) => ({
      cmd: 'publish' as const,
      topic,
      payload: Buffer.from(payload),
      qos: 1 as const,
      retain: false,
      dup: false,
      messageId: null,
      brokerId: 'b',
      brokerCounter: 1,
    });
    const first = await open();
    const repo = first.brokerState();
    // issued without awaiting each other, as the broker does
    const writes = [
      repo.putRetained({ ...packet('site/state', 'online'), retain: true }),
      repo.enqueueOutgoing([{ id: 1, clientId: 'c', packet: packet('cmd/1', 'a') }]),
      repo.updateOutgoing(1, { ...packet('cmd/1', 'a'), messageId: 7 }),
      repo.enqueueOutgoing([{ id: 2, clientId: 'c', packet: packet('cmd/2', 'b') }]),
      repo.deleteOutgoing(2),
      repo.putSubscriptions('c', [{ topic: 'cmd/#', qos: 1, rap: true }]),
    ];
    await first.stop();
    await Promise.all(writes);
    const state = await (await open()).brokerState().load();
    expect(state.retained.map((p) => [p.topic, p.payload.toString(), p.retain])).toEqual([
      ['site/state', 'online', true],
    ]);
    expect(state.outgoing.map((e) => [e.id, e.packet.messageId])).toEqual([[1, 7]]);
    expect(state.subscriptions).toEqual([
      { clientId: 'c', subscriptions: [{ topic: 'cmd/#', qos: 1, rap: true }] },
    ]);
  });
});
