import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/logger.js';
import { senderStore } from '../../../src/outbox.js';
import { QueuedSms } from '../../../src/smpp/queued-sms.js';
import { Sender, type SenderConnectionOptions } from '../../../src/smpp/sender.js';
import type { SmppClient } from '../../../src/smpp/session.js';
import { createStore, type NewSms, type SmsRecord, type Store } from '../../../src/store/index.js';
import { tempDir, waitFor } from '../../helpers/harness.js';
import { Cleanup, startClient, startSim, waitBound } from './helpers.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

const UK = '+447700900001';
const FRANCE = '+33612345678';

async function openStore(dir: string): Promise<Store> {
  const store = createStore({ path: join(dir, 'bridge.db'), synchronous: 'full' });
  await store.start();
  cleanup.add(() => store.stop());
  return store;
}

function workDir(): string {
  const dir = tempDir();
  cleanup.add(async () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Every optional field set and unset, and each priority: what a lighter form must give back. */
function variants(): NewSms[] {
  const expiresAt = Date.now() + 3_600_000;
  return [
    { to: UK, text: 'plain', priority: 'normal', source: 'api', expiresAt },
    {
      to: FRANCE,
      text: 'pump-7 overheating: 95C. Reply ACK 12',
      priority: 'critical',
      source: 'rule:pump-overheat',
      ruleId: 'pump-overheat',
      deviceId: 'pump-7',
      alertRef: '12',
      expiresAt: expiresAt + 1,
      maxParts: 2,
      registeredDelivery: true,
    },
    {
      to: UK,
      text: 'no receipt, low',
      priority: 'low',
      source: 'alert-digest',
      alertRef: '7',
      expiresAt: expiresAt + 2,
      registeredDelivery: false,
    },
    { to: FRANCE, text: 'high, one part at most', priority: 'high', source: 'reply', expiresAt, maxParts: 1 },
  ];
}

function connection(link: SmppClient): SenderConnectionOptions {
  return {
    id: link.id,
    link,
    window: 10,
    tps: 100,
    priority: 0,
    routes: [],
    sourceAddr: 'BRIDGE',
    sourceAddrTon: 5,
    sourceAddrNpi: 0,
    registeredDelivery: false,
    longText: 'udh8',
  };
}

describe('A queued SMS in its lighter form (QueuedSms)', () => {
  it('gives back the committed row of an SMS never tried, as committed and as read after a restart; a tried one keeps its record', async () => {
    const dir = workDir();
    let store = await openStore(dir);
    const records = await store.transaction((tx) => tx.outbox.enqueue(variants()));
    for (const r of records) {
      expect(QueuedSms.of(r)?.record()).toStrictEqual(r);
      expect(QueuedSms.of(r)?.record()).toStrictEqual(await store.getSms(r.id));
    }
    await store.stop();

    store = await openStore(dir);
    const pending = await store.pendingSms();
    expect(pending.map((p) => p.id)).toEqual(records.map((r) => r.id));
    for (const p of pending) expect(QueuedSms.of(p)?.record()).toStrictEqual(p);

    const tried = await store.transaction((tx) =>
      tx.outbox.recordAttempt(records[0]!.id, null, 'ESME_RSYSERR'),
    );
    expect(tried.state).toBe('queued');
    expect(QueuedSms.of(tried)).toBeUndefined();
  });

  it('SMS queued before a restart go out as committed, and each submitted record told is the stored row', async () => {
    const dir = workDir();
    const first = await openStore(dir);
    const items = variants();
    const records = await first.transaction((tx) => tx.outbox.enqueue(items));
    await first.stop();

    const store = await openStore(dir);
    const { sim, port } = await startSim(cleanup);
    const client = startClient(cleanup, port);
    await waitBound(client);
    const told: SmsRecord[] = [];
    const sender = new Sender({
      connections: [connection(client)],
      store: senderStore(store),
      maxParts: 4,
      logger: silentLogger(),
      onStatus: (sms) => told.push(sms),
    });
    await sender.start();
    cleanup.add(() => sender.stop());
    await waitFor(() => told.length === records.length, 5000, 'every SMS submitted');

    for (const sms of told) {
      expect(sms.state).toBe('submitted');
      expect(sms).toStrictEqual(await store.getSms(sms.id));
    }
    // what the SMSC got (critical first, then high, then in id order): each SMS's own number, text, receipt
    // request and priority
    const got = sim.received.map((r) => ({
      to: r.to,
      text: r.text,
      registeredDelivery: r.registeredDelivery,
      priorityFlag: r.priorityFlag,
    }));
    expect(got).toEqual([
      { to: FRANCE, text: items[1]!.text, registeredDelivery: 1, priorityFlag: 3 },
      { to: FRANCE, text: 'high, one part at most', registeredDelivery: 0, priorityFlag: 1 },
      { to: UK, text: 'plain', registeredDelivery: 0, priorityFlag: 0 },
      { to: UK, text: 'no receipt, low', registeredDelivery: 0, priorityFlag: 0 },
    ]);
  });
});
