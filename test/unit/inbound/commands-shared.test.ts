import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Bus } from '../../../src/broker/bus.js';
import { Events } from '../../../src/events.js';
import { CommandOutbox } from '../../../src/inbound/commands.js';
import { silentLogger } from '../../../src/logger.js';
import { SqliteStore } from '../../../src/store/sqlite/sqlite-store.js';
import type { DeviceCommand } from '../../../src/store/store.js';

/** Two instances on one store (issue 13): a committed command is published by one of them, once. */
describe('the command outbox of two instances on one store', () => {
  let store: SqliteStore;
  let published: string[];
  const outboxes: CommandOutbox[] = [];

  const bus: Bus = {
    start: async () => undefined,
    stop: async () => undefined,
    subscribe: async () => undefined,
    hasSubscribers: () => true,
    publish: async (topic) => {
      published.push(topic);
    },
  };
  const outbox = async (owner: string) => {
    const logger = silentLogger();
    const o = new CommandOutbox({
      store,
      bus,
      events: new Events(logger),
      logger,
      retryMs: 5_000,
      adopt: { owner, afterMs: 15_000 },
    });
    await o.start();
    outboxes.push(o);
    return o;
  };
  const command = (): DeviceCommand => ({
    requestId: 'req-1',
    deviceId: 'pump-7',
    command: 'stop',
    from: '+447700900001',
    topic: 'devices/pump-7/commands/stop',
    payload: '{}',
    createdAt: Date.now(),
  });
  const advance = async (ms: number) => {
    await vi.advanceTimersByTimeAsync(ms);
    for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
  };

  beforeEach(async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
    vi.setSystemTime(new Date('2026-11-29T12:00:00Z'));
    store = new SqliteStore({ path: ':memory:' });
    await store.start();
    published = [];
  });
  afterEach(async () => {
    for (const o of outboxes.splice(0)) await o.stop();
    await store.stop();
    vi.useRealTimers();
  });

  it('leaves a young command to the instance that committed it, even when its publish is slow', async () => {
    const other = await outbox('b');
    const mine = await outbox('a');
    const c = command();
    await store.transaction((tx) => tx.inbound.addCommand(c));
    // the committing instance's publish takes 7 s (a broker reconnecting); the other's scans run at 5 s
    await advance(7_000);
    await mine.publish(c);
    await advance(30_000);
    expect(published).toEqual(['devices/pump-7/commands/stop']);
    expect(other).toBeDefined();
  });

  it('publishes, once, a command whose instance died before publishing it', async () => {
    await outbox('b');
    await outbox('c');
    await store.transaction((tx) => tx.inbound.addCommand(command()));
    await advance(10_000);
    expect(published).toEqual([]);
    await advance(10_000);
    expect(published).toEqual(['devices/pump-7/commands/stop']);
  });

  it('never publishes again a command marked while the retry loop was publishing another', async () => {
    vi.useRealTimers();
    let open!: () => void;
    const gate = new Promise<void>((r) => {
      open = r;
    });
    const slowBus: Bus = {
      ...bus,
      publish: async (topic) => {
        published.push(topic);
        if (topic.endsWith('/slow')) await gate;
      },
    };
    const logger = silentLogger();
    const o = new CommandOutbox({ store, bus: slowBus, events: new Events(logger), logger });
    outboxes.push(o);
    const slow = { ...command(), requestId: 'req-slow', topic: 'devices/pump-7/commands/slow' };
    const live = command();
    await store.transaction(async (tx) => {
      await tx.inbound.addCommand(slow);
      await tx.inbound.addCommand(live);
    });
    // the retry loop (at start) read both and is stuck publishing the first
    const started = o.start();
    while (published.length === 0) await new Promise((r) => setImmediate(r));
    // meanwhile the second is published by its own path and its mark commits
    await o.publish(live);
    while ((await store.unpublishedCommands()).some((c) => c.requestId === live.requestId))
      await new Promise((r) => setImmediate(r));
    open();
    await started;
    expect(published).toEqual(['devices/pump-7/commands/slow', 'devices/pump-7/commands/stop']);
  });
});
