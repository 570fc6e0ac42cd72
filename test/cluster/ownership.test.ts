import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { App } from '../../src/app.js';
import { loadBridgeConfig } from '../../src/config/load-bridge.js';
import { silentLogger } from '../../src/logger.js';
import { SmscSimulator } from '../../src/simulator/smsc.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { NewSms } from '../../src/store/store.js';
import { FaultyStore } from '../helpers/faulty-store.js';
import { tempDir, waitFor } from '../helpers/harness.js';

/**
 * Two bridge instances in one process sharing one SQLite file (the lease and claim rows are the same ones
 * PostgreSQL holds in a real cluster), two SMPP connections to one simulator. Each instance tags its binds
 * with its own address_range, so the SMSC can tell who sent what.
 */
function writeConfig(dir: string, name: string, smscPort: number, tps: number, window: number): string {
  const file = join(dir, `${name}.yaml`);
  const connection = (id: string) => `    - id: ${id}
      url: "smpp://127.0.0.1:${smscPort}"
      system_id: ${id}
      password: secret
      source_addr: BRIDGE
      address_range: "${name}"
      tps: ${tps}
      window: ${window}
      enquire_link_interval: 1s
      response_timeout: 2s
      reconnect: { initial: 50ms, max: 200ms }
`;
  writeFileSync(
    file,
    `mqtt: { host: 127.0.0.1, port: 0, allow_anonymous: true }
smpp:
  connections:
${connection('c1')}${connection('c2')}
store: { path: ${join(dir, 'bridge.db')} }
rules: []
devices: []
cluster: { enabled: true, instance_id: ${name}, lease_ttl: 1s, poll: 100ms }
`,
  );
  return file;
}

const sms = (n: number): NewSms => ({
  to: `+4477009${String(n).padStart(5, '0')}`,
  text: `sms ${n}`,
  priority: 'normal',
  source: 'test',
  expiresAt: Date.now() + 600_000,
});

describe('cluster: SMPP connection ownership and SMS claims', () => {
  const cleanup: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn();
  });

  async function setup(tps = 200, window = 10) {
    const dir = tempDir();
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const sim = new SmscSimulator({ receipts: false, logger: silentLogger() });
    const { port } = await sim.start({ host: '127.0.0.1', port: 0 });
    cleanup.push(() => sim.stop());
    const start = async (name: string) => {
      const store = new FaultyStore(new SqliteStore({ path: join(dir, 'bridge.db') }));
      const app = new App({
        config: loadBridgeConfig(writeConfig(dir, name, port, tps, window)),
        logger: silentLogger(),
        store,
        watch: false,
      });
      await app.start();
      let stopped = false;
      cleanup.push(() => (stopped ? undefined : app.stop()));
      return {
        app,
        store,
        stop: async () => {
          stopped = true;
          await app.stop();
        },
      };
    };
    const sentBy = (name: string) =>
      sim.received.filter((r) => sim.binds.find((b) => b.session === r.session)?.addressRange === name);
    return { sim, start, sentBy };
  }

  it('binds each connection on one instance only and sends each SMS once, whoever committed it', async () => {
    const { sim, start, sentBy } = await setup();
    const [a, b] = await Promise.all([start('a'), start('b')]);
    await waitFor(() => sim.boundSessions().length === 2, 'both connections bound');
    const owned = [...a.app.cluster!.ownedConnections, ...b.app.cluster!.ownedConnections];
    expect(owned.sort()).toEqual(['c1', 'c2']);
    expect(
      sim
        .boundSessions()
        .map((s) => s.systemId)
        .sort(),
    ).toEqual(['c1', 'c2']);

    await a.app.queue(Array.from({ length: 150 }, (_, i) => sms(i)));
    await b.app.queue(Array.from({ length: 150 }, (_, i) => sms(150 + i)));
    await waitFor(() => sim.received.length >= 300, 'every SMS at the SMSC', 15_000);
    await new Promise((r) => setTimeout(r, 300));
    const texts = sim.received.map((r) => r.text);
    expect(new Set(texts).size).toBe(300);
    expect(texts).toHaveLength(300);
    // each went out on the connection that owns it, whichever instance committed it
    for (const name of ['a', 'b'] as const) {
      const app = name === 'a' ? a.app : b.app;
      expect(new Set(sentBy(name).map((r) => r.connectionSystemId))).toEqual(
        new Set(sentBy(name).length > 0 ? app.cluster!.ownedConnections : []),
      );
    }
    expect(await a.app.store.countByState()).toMatchObject({ queued: 0, submitted: 300 });

    // a graceful stop hands its connection over at once (released, not left to expire)
    const before = sim.binds.length;
    const held = a.app.cluster!.ownedConnections;
    await a.stop();
    // released at once, not left to expire: free for the next instance that asks
    for (const id of held) {
      const lease = await b.app.store.transaction((tx) =>
        tx.leases.acquire(`smpp:${id}`, 'b', 1_000, Date.now()),
      );
      expect(lease.owner).toBe('b');
    }
    await waitFor(() => b.app.cluster!.ownedConnections.length === 2, 'b owns both', 2_000);
    await waitFor(() => sim.boundSessions().length === 2, 'both bound again');
    expect(sim.binds.slice(before).every((x) => x.addressRange === 'b')).toBe(true);
    await b.app.queue([sms(999)]);
    await waitFor(() => sim.received.some((r) => r.text === 'sms 999'), 'sent by b');
  });

  it('an instance that cannot renew stops submitting when its lease runs out; another takes over', async () => {
    // slow links keep SMS waiting in the instances' lanes when a's store stalls
    const { sim, start, sentBy } = await setup(20, 100);
    // a alone first, so it owns both connections whatever the load (an instance takes one more per heartbeat:
    // started one after the other, which one ends up with what depended on how long b took to start)
    const a = await start('a');
    await waitFor(
      () => a.app.cluster!.ownedConnections.length === 2 && sim.boundSessions().length === 2,
      'a owns both connections, bound',
    );
    const b = await start('b');
    // b owns nothing: it commits the SMS, a claims and sends them
    await b.app.queue(Array.from({ length: 200 }, (_, i) => sms(i)));
    await waitFor(() => sentBy('a').length >= 10, 'a sending', 10_000);
    // every transaction of a now waits 4 s: it can no longer renew its lease (ttl 1 s)
    a.store.add({ op: 'transaction', nth: 'all', kind: 'delay', ms: 4_000 });
    const stalledAt = Date.now();
    await waitFor(() => b.app.cluster!.ownedConnections.length === 2, 'b took a connection over', 5_000);
    expect(Date.now() - stalledAt).toBeLessThan(3_000);
    await waitFor(() => new Set(sim.received.map((r) => r.text)).size === 200, 'every SMS sent', 20_000);
    // a's lease ran out at most 1 s after its last renewal, before the stall began
    const late = sentBy('a').filter((r) => r.at.getTime() > stalledAt + 1_000);
    expect(late).toEqual([]);
    // duplicates only from submits a made but could not record: bounded by its window
    expect(sim.received.length - 200).toBeLessThanOrEqual(100);
    // the stall is over: a's stop (in the cleanup) need not wait 4 s per transaction
    a.store.clear();
  });
});
