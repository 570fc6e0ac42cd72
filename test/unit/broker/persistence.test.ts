import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BrokerPersistence, type BrokerPersistenceOptions } from '../../../src/broker/persistence.js';
import { silentLogger } from '../../../src/logger.js';
import { SqliteBrokerStateRepository } from '../../../src/store/sqlite/broker-state.js';
import { tempDir } from '../../helpers/harness.js';

const publish = (topic: string, payload: string, extra: Record<string, unknown> = {}) => ({
  cmd: 'publish',
  topic,
  payload: Buffer.from(payload),
  qos: 1,
  retain: false,
  ...extra,
});

const collect = async (stream: Readable) => {
  const items: Array<Record<string, unknown>> = [];
  for await (const item of stream) items.push(item as Record<string, unknown>);
  return items;
};

describe('BrokerPersistence on SQLite: what a restart brings back', () => {
  let dir: string;
  const open: Array<{ db: Database.Database; persistence: BrokerPersistence }> = [];

  /** A persistence on the same file, as after a restart; `brokerId` is the new broker's id. */
  const start = async (brokerId: string, limits: Partial<BrokerPersistenceOptions> = {}) => {
    const db = new Database(join(dir, 'bridge.db'));
    const persistence = new BrokerPersistence({
      repository: new SqliteBrokerStateRepository(db),
      logger: silentLogger(),
      ...limits,
    });
    await persistence.setup({ id: brokerId });
    open.push({ db, persistence });
    return persistence;
  };
  const stop = async () => {
    for (const { db, persistence } of open.splice(0)) {
      await persistence.destroy();
      db.close();
    }
  };

  beforeEach(() => {
    dir = tempDir();
  });
  afterEach(async () => {
    await stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('brings back last wills, with the id of the broker that took them', async () => {
    const before = await start('broker-old');
    await before.putWill({ id: 'pump-7' }, publish('devices/pump-7/status', 'gone', { retain: true }));
    await before.putWill({ id: 'pump-8' }, publish('devices/pump-8/status', 'gone'));
    await before.delWill({ id: 'pump-8' });
    await stop();

    const after = await start('broker-new');
    // aedes publishes the wills whose broker sends no heartbeat: the new broker is alive, the old one is not
    const wills = await collect(after.streamWill({ 'broker-new': Date.now() }));
    expect(wills).toHaveLength(1);
    expect(wills[0]).toMatchObject({
      clientId: 'pump-7',
      brokerId: 'broker-old',
      topic: 'devices/pump-7/status',
      retain: true,
    });
    expect((wills[0]!.payload as Buffer).toString()).toBe('gone');
  });

  it('brings back inbound QoS 2 packets awaiting PUBREL of persistent sessions, not of clean ones', async () => {
    const before = await start('broker-old');
    await before.incomingStorePacket(
      { id: 'pump-7', clean: false },
      publish('a', 'x', { qos: 2, messageId: 7 }),
    );
    await before.incomingStorePacket(
      { id: 'pump-7', clean: false },
      publish('a', 'y', { qos: 2, messageId: 8 }),
    );
    await before.incomingDelPacket({ id: 'pump-7' }, { messageId: 8 });
    await before.incomingStorePacket({ id: 'app', clean: true }, publish('a', 'z', { qos: 2, messageId: 9 }));
    await stop();

    const after = await start('broker-new');
    const kept = await after.incomingGetPacket({ id: 'pump-7' }, { messageId: 7 });
    expect(kept).toMatchObject({ topic: 'a', qos: 2, messageId: 7 });
    await expect(after.incomingGetPacket({ id: 'pump-7' }, { messageId: 8 })).rejects.toThrow();
    await expect(after.incomingGetPacket({ id: 'app' }, { messageId: 9 })).rejects.toThrow();
  });

  it('brings back a queue in order with the packet identifiers and PUBRELs it had', async () => {
    const before = await start('broker-old');
    const sub = { clientId: 'pump-7' };
    for (const [n, text] of ['one', 'two', 'three'].entries()) {
      await before.outgoingEnqueueCombi(
        [sub],
        publish('c', text, { brokerId: 'broker-old', brokerCounter: n + 1 }),
      );
    }
    await before.outgoingUpdate(
      { id: 'pump-7' },
      publish('c', 'one', { brokerId: 'broker-old', brokerCounter: 1, messageId: 11 }),
    );
    await before.outgoingUpdate({ id: 'pump-7' }, { cmd: 'pubrel', messageId: 11 } as never);
    await before.outgoingUpdate(
      { id: 'pump-7' },
      publish('c', 'two', { brokerId: 'broker-old', brokerCounter: 2, messageId: 12 }),
    );
    await before.outgoingClearMessageId({ id: 'pump-7' }, { messageId: 12 });
    await stop();

    const after = await start('broker-new');
    const queue = await collect(after.outgoingStream({ id: 'pump-7' }));
    expect(queue.map((p) => [p.cmd, p.messageId ?? null])).toEqual([
      ['pubrel', 11],
      ['publish', null],
    ]);
    expect((queue[1]!.payload as Buffer).toString()).toBe('three');
  });

  it('keeps at most maxRetainedMessages topics and drops a payload over maxRetainedPayloadBytes', async () => {
    const limits = { maxRetainedMessages: 2, maxRetainedPayloadBytes: 8 };
    const before = await start('broker-old', limits);
    await before.storeRetained(publish('r/a', 'a1', { retain: true }));
    await before.storeRetained(publish('r/b', 'b1', { retain: true }));
    await before.storeRetained(publish('r/c', 'c1', { retain: true })); // a third topic: not kept
    await before.storeRetained(publish('r/a', 'a2', { retain: true })); // a kept topic may change
    await before.storeRetained(publish('r/b', 'too large!', { retain: true })); // supersedes b1, not kept
    const live = await collect(before.createRetainedStream('r/#'));
    expect(live.map((p) => `${p.topic}=${p.payload}`)).toEqual(['r/a=a2']);
    await stop();

    const after = await start('broker-new', limits);
    const reloaded = await collect(after.createRetainedStream('r/#'));
    expect(reloaded.map((p) => `${p.topic}=${p.payload}`)).toEqual(['r/a=a2']);
    await after.storeRetained(publish('r/d', 'd1', { retain: true })); // room again after b was dropped
    expect(await collect(after.createRetainedStream('r/d'))).toHaveLength(1);
  });

  it('keeps at most maxQueuedPerClient messages per session, dropping the oldest', async () => {
    const before = await start('broker-old', { maxQueuedPerClient: 2 });
    for (const [n, text] of ['one', 'two', 'three'].entries()) {
      await before.outgoingEnqueue({ clientId: 'pump-7' }, publish('c', text, { brokerCounter: n + 1 }));
    }
    const payloads = async (p: BrokerPersistence) =>
      (await collect(p.outgoingStream({ id: 'pump-7' }))).map((x) => String(x.payload));
    expect(await payloads(before)).toEqual(['two', 'three']);
    await stop();
    expect(await payloads(await start('broker-new', { maxQueuedPerClient: 2 }))).toEqual(['two', 'three']);
  });

  it('writes no row for retained topics their owner republishes at start (alert topics), drops old rows of them', async () => {
    const alerts = (topic: string) => topic.startsWith('sms-bridge/alerts/');
    // an older version stored an alert topic (and the alert then resolved while its clear was not written)
    const old = await start('broker-old');
    await old.storeRetained(publish('sms-bridge/alerts/7', '{"state":"open"}', { retain: true }));
    await stop();

    const before = await start('broker-mid', { republished: alerts });
    const topics = async (p: BrokerPersistence) =>
      (await collect(p.createRetainedStreamCombi(['#']))).map((x) => x.topic).sort();
    expect(await topics(before)).toEqual([]);
    await before.storeRetained(publish('sms-bridge/alerts/8', '{"state":"open"}', { retain: true }));
    await before.storeRetained(publish('devices/pump-7/status', 'up', { retain: true }));
    // served from memory while running
    expect(await topics(before)).toEqual(['devices/pump-7/status', 'sms-bridge/alerts/8']);
    const rows = (db: Database.Database) =>
      db.prepare('SELECT topic FROM broker_retained ORDER BY topic').pluck().all();
    expect(rows(open[0]!.db)).toEqual(['devices/pump-7/status']);
    await stop();

    const after = await start('broker-new', { republished: alerts });
    expect(await topics(after)).toEqual(['devices/pump-7/status']);
  });
});
