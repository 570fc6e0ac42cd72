import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/logger.js';
import { senderStore } from '../../../src/outbox.js';
import type { SmscSimulator } from '../../../src/simulator/smsc.js';
import { Sender, type SenderConnectionOptions, type SenderOptions } from '../../../src/smpp/sender.js';
import type { SmppClient } from '../../../src/smpp/session.js';
import { createStore, type NewSms, type SmsRecord, type Store } from '../../../src/store/index.js';
import { FaultyStore } from '../../helpers/faulty-store.js';
import { tempDir, waitFor } from '../../helpers/harness.js';
import { RawSmsc } from '../../helpers/raw-smsc.js';
import { Cleanup, captureLog, startClient, startSim, waitBound } from './helpers.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

const FRANCE = '+33612345678';
const UK = '+447700900001';

function workDir(): string {
  const dir = tempDir();
  cleanup.add(async () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function openStore(dir: string): Promise<Store> {
  const store = createStore({ path: join(dir, 'bridge.db'), synchronous: 'full' });
  await store.start();
  cleanup.add(() => store.stop());
  return store;
}

/** Commits SMS as intake does, state queued. */
function queue(store: Store, items: NewSms[]): Promise<SmsRecord[]> {
  return store.transaction((tx) => tx.outbox.enqueue(items));
}

function connection(link: SmppClient, o: Partial<SenderConnectionOptions> = {}): SenderConnectionOptions {
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
    ...o,
  };
}

/** A started sender; its state changes in `statuses`, in order. */
async function startSender(
  store: Store,
  connections: SenderConnectionOptions[],
  o: Partial<SenderOptions> = {},
): Promise<{ sender: Sender; statuses: SmsRecord[] }> {
  const statuses: SmsRecord[] = [];
  const sender = new Sender({
    connections,
    store: senderStore(store),
    maxParts: 4,
    logger: silentLogger(),
    onStatus: (sms) => statuses.push(sms),
    ...o,
  });
  await sender.start();
  cleanup.add(() => sender.stop());
  return { sender, statuses };
}

function sms(to: string, text: string, priority: NewSms['priority'] = 'normal'): NewSms {
  return { to, text, priority, source: 'test', expiresAt: Date.now() + 60_000 };
}

/** Counts every submit_sm the simulator got, answered or not. */
function countSubmits(sim: SmscSimulator): { n: number } {
  const count = { n: 0 };
  sim.on('pdu', (pdu) => {
    if (pdu.command === 'submit_sm') count.n++;
  });
  return count;
}

describe('Sender lanes per connection', () => {
  it('sends an SMS another connection serves while the head of its lane waits for a connection that is down', async () => {
    const store = await openStore(workDir());
    const { sim: france, port: francePort } = await startSim(cleanup);
    const { sim: uk, port: ukPort } = await startSim(cleanup);
    await france.stop();
    const a = startClient(cleanup, francePort, { id: 'france' });
    const b = startClient(cleanup, ukPort, { id: 'uk' });
    await waitBound(b);
    const { sender, statuses } = await startSender(store, [
      connection(a, { routes: ['+33'] }),
      connection(b, { routes: ['+44'] }),
    ]);
    // same lane, the French one first
    sender.enqueue(await queue(store, [sms(FRANCE, 'bonjour'), sms(UK, 'hello')]));

    await waitFor(() => statuses.length === 1, 'the UK SMS past the waiting French one', 3000);
    expect(uk.received.map((r) => r.text)).toEqual(['hello']);
    expect(statuses.map((s) => [s.to, s.state])).toEqual([[UK, 'submitted']]);
    expect(sender.depth.normal).toBe(1);

    // the French SMS waited, and goes out once its SMSC is back
    await france.start({ host: '127.0.0.1', port: francePort });
    await waitFor(() => france.received.length === 1, 'the French SMS after its SMSC is back', 5000);
    expect(france.received[0]).toMatchObject({ to: FRANCE, text: 'bonjour' });
  });

  it('sends a low SMS on one connection while a critical one is held back by throttling on another', async () => {
    const store = await openStore(workDir());
    // the French SMSC answers ESME_RTHROTTLED (0x58) to everything until the test lifts it
    const throttle: Record<string, number> = { [FRANCE]: 0x58 };
    const { sim: france, port: francePort } = await startSim(cleanup, { failDestinations: throttle });
    const { sim: uk, port: ukPort } = await startSim(cleanup);
    const a = startClient(cleanup, francePort, { id: 'france' });
    const b = startClient(cleanup, ukPort, { id: 'uk' });
    await Promise.all([waitBound(a), waitBound(b)]);
    const franceSubmits = countSubmits(france);
    const { sender, statuses } = await startSender(
      store,
      // window 1: the second critical SMS waits for the first, at the head of the critical lane
      [connection(a, { routes: ['+33'], window: 1 }), connection(b, { routes: ['+44'] })],
      { throttlePauseMs: 300 },
    );
    sender.enqueue(
      await queue(store, [
        sms(FRANCE, 'critical 1', 'critical'),
        sms(FRANCE, 'critical 2', 'critical'),
        sms(UK, 'low', 'low'),
      ]),
    );
    await waitFor(() => franceSubmits.n >= 1, 'the French SMSC to throttle', 3000);
    await waitFor(
      () => statuses.some((s) => s.text === 'low'),
      'the low UK SMS past the throttled critical ones',
      3000,
    );
    expect(statuses.map((s) => [s.text, s.state])).toEqual([['low', 'submitted']]);
    expect(uk.received.map((r) => r.text)).toEqual(['low']);
    expect(france.received).toHaveLength(0);

    delete throttle[FRANCE];
    await waitFor(() => france.received.length === 2, 'both critical SMS once throttling ends', 5000);
    // within the French connection the lane order held across the resubmits
    expect(france.received.map((r) => r.text)).toEqual(['critical 1', 'critical 2']);
  });
});

describe('Sender routing', () => {
  it('fails at once an SMS that no connection routes, with the reason', async () => {
    const store = await openStore(workDir());
    const { sim, port } = await startSim(cleanup);
    const client = startClient(cleanup, port);
    await waitBound(client);
    const { sender, statuses } = await startSender(store, [connection(client, { routes: ['+33'] })]);
    sender.enqueue(await queue(store, [sms(UK, 'nowhere to go')]));
    const failed = await waitFor(() => statuses[0], 'a state change');
    expect(failed).toMatchObject({ state: 'failed' });
    expect(failed.error).toMatch(/^ERR_SMS_REJECTED: no connection routes this destination \(routes: \+33\)/);
    expect(sender.depth.normal).toBe(0);
    expect(sim.received).toHaveLength(0);
  });
});

describe('Sender priority on one connection', () => {
  it('keeps a connection for a critical SMS waiting on its tokens: low ones do not take them first', async () => {
    const store = await openStore(workDir());
    const { sim, port } = await startSim(cleanup);
    const { sim: spare, port: sparePort } = await startSim(cleanup);
    await spare.stop();
    const client = startClient(cleanup, port);
    const down = startClient(cleanup, sparePort, { id: 'spare' });
    await waitBound(client);
    // Two routes share `smsc-a`: the critical SMS may also take the spare (down), the London ones only smsc-a.
    // At 10 parts/s the three-part critical SMS has to wait for tokens the single-part low ones could take.
    const { sender } = await startSender(store, [
      connection(client, { tps: 10, routes: ['+44'] }),
      connection(down, { routes: ['+447700'], priority: 1 }),
    ]);
    sender.enqueue(
      await queue(store, [
        ...Array.from({ length: 3 }, (_, i) => sms('+442071234567', `low ${i}`, 'low')),
        sms(UK, 'critical '.repeat(40).trim(), 'critical'),
      ]),
    );
    await waitFor(() => sim.received.length >= 4, 'the critical parts and a low one', 5000);
    expect(sim.received.slice(0, 3).map((r) => r.part)).toEqual([
      { seq: 1, total: 3 },
      { seq: 2, total: 3 },
      { seq: 3, total: 3 },
    ]);
  });
});

describe('Sender retries', () => {
  it('takes the attempts from the record, so max attempts hold across a restart', async () => {
    const dir = workDir();
    // ESME_RSYSERR (0x08) is transient: retried, counted
    const { sim, port } = await startSim(cleanup, { failDestinations: { [UK]: 0x08 } });
    const client = startClient(cleanup, port);
    await waitBound(client);
    const submits = countSubmits(sim);

    let store = await openStore(dir);
    const first = await startSender(store, [connection(client)], {
      maxAttempts: 3,
      retryInitialMs: 500,
    });
    const [record] = await queue(store, [sms(UK, 'keeps failing')]);
    first.sender.enqueue([record!]);
    const id = record!.id;
    await waitFor(async () => (await store.getSms(id))?.attempts === 2, 'two attempts recorded', 5000);
    await first.sender.stop();
    await store.stop();
    expect(submits.n).toBe(2);

    store = await openStore(dir);
    const second = await startSender(store, [connection(client)], {
      maxAttempts: 3,
      retryInitialMs: 500,
    });
    const failed = await waitFor(() => second.statuses.find((s) => s.state === 'failed'), 'given up');
    expect(failed.error).toMatch(/^gave up after 3 attempts: ESME_RSYSERR/);
    expect(submits.n).toBe(3);
  });

  it('stop() with a retry pending resolves, and the retry never runs', async () => {
    const store = await openStore(workDir());
    const { sim, port } = await startSim(cleanup, { failDestinations: { [UK]: 0x08 } });
    const client = startClient(cleanup, port);
    await waitBound(client);
    const submits = countSubmits(sim);
    const { sender } = await startSender(store, [connection(client)], { retryInitialMs: 800 });
    const [record] = await queue(store, [sms(UK, 'retry me')]);
    sender.enqueue([record!]);
    await waitFor(async () => (await store.getSms(record!.id))?.attempts === 1, 'one attempt recorded');

    await sender.stop();
    expect(sender.depth).toEqual({ critical: 0, high: 0, normal: 0, low: 0 });
    // past the retry's 800 ms: had its timer survived stop(), the SMS would be back in a lane
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(sender.depth).toEqual({ critical: 0, high: 0, normal: 0, low: 0 });
    expect(submits.n).toBe(1);
    expect((await store.getSms(record!.id))?.state).toBe('queued');
  });
});

describe('Sender and a missing submit_sm_resp', () => {
  it('resubmits only after a fresh bind, never twice on one session', async () => {
    const store = await openStore(workDir());
    const { sim, port } = await startSim(cleanup);
    // enquire_link far off: only the missing submit_sm_resp can end the session
    const client = startClient(cleanup, port, { enquireLinkIntervalMs: 60_000, responseTimeoutMs: 300 });
    await waitBound(client);
    const { sender, statuses } = await startSender(store, [connection(client)], { retryInitialMs: 50 });
    sim.swallowSubmits(1);
    sender.enqueue(await queue(store, [sms(UK, 'once per session')]));

    const done = await waitFor(() => statuses.find((s) => s.state === 'submitted'), 'submitted', 5000);
    expect(done.text).toBe('once per session');
    const [swallowed, resubmit] = sim.received;
    expect(sim.received).toHaveLength(2);
    expect(swallowed).toMatchObject({ answered: false, session: sim.binds[0]!.session });
    // the resubmit went on a session that was bound after the first one went silent
    expect(resubmit).toMatchObject({ answered: true });
    expect(resubmit!.session).not.toBe(swallowed!.session);
    expect(sim.binds.map((b) => b.session)).toContain(resubmit!.session);
    expect(sim.binds.find((b) => b.session === resubmit!.session)!.at >= swallowed!.at).toBe(true);
  });
});

describe('Sender retries of a concatenated SMS', () => {
  it('sends again only the parts the SMSC did not accept, and records every part once', async () => {
    // the second part's first submit_sm fails with a transient ESME_RSYSERR; everything else is accepted
    let failedOnce = false;
    const smsc = new RawSmsc({
      submitStatus: (submit) => {
        if (submit.shortMessage[5] === 2 && !failedOnce) {
          failedOnce = true;
          return 0x08; // SMPP 3.4 §5.1.3 ESME_RSYSERR
        }
        return 0;
      },
    });
    const { port } = await smsc.start();
    cleanup.add(() => smsc.stop());
    const store = await openStore(workDir());
    const link = startClient(cleanup, port);
    await waitBound(link);
    const { sender, statuses } = await startSender(store, [connection(link)], { retryInitialMs: 20 });
    sender.enqueue(await queue(store, [sms(UK, 'x'.repeat(400))])); // 3 parts (udh8)

    const done = await waitFor(() => statuses.find((s) => s.state === 'submitted'), 'submitted', 5000);
    // parts 1, 2 (refused) and 3, then part 2 alone
    expect(smsc.submits.map((x) => [x.shortMessage[5], x.commandStatus])).toEqual([
      [1, 0],
      [2, 0x08],
      [3, 0],
      [2, 0],
    ]);
    expect(done.partsTotal).toBe(3);
    const ids = smsc.submits.filter((x) => x.commandStatus === 0).map((x) => x.messageId);
    // each part stored under the id of the submit that carried it
    const partOf = async (id: string) =>
      (await store.transaction((tx) => tx.outbox.awaitingReceipt(link.id, [id], [], 0))).exact;
    expect(await partOf(ids[0]!)).toEqual([{ smsId: done.id, seq: 1 }]);
    expect(await partOf(ids[1]!)).toEqual([{ smsId: done.id, seq: 3 }]);
    expect(await partOf(ids[2]!)).toEqual([{ smsId: done.id, seq: 2 }]);
  });
});

describe('Sender rate limit against an SMSC that shares no code with it', () => {
  it('never puts more than tps parts in any second of arrivals, one-part and three-part SMS alike', async () => {
    const tps = 25;
    // Strict: every submit_sm the SMSC reads is an arrival on a sub-millisecond clock, and a second is closed
    // at both ends (one that came exactly 1,000 ms earlier still counts); above tps it answers 0x58.
    const arrivals: number[] = [];
    let throttled = 0;
    const smsc = new RawSmsc({
      submitStatus: () => {
        const now = performance.now();
        const inSecond = arrivals.filter((t) => now - t <= 1000).length;
        if (inSecond >= tps) {
          throttled++;
          return 0x58; // SMPP 3.4 §5.1.3 ESME_RTHROTTLED
        }
        arrivals.push(now);
        return 0;
      },
    });
    const { port } = await smsc.start();
    cleanup.add(() => smsc.stop());
    const store = await openStore(workDir());
    const link = startClient(cleanup, port);
    await waitBound(link);
    const { sender, statuses } = await startSender(store, [connection(link, { tps, window: 10 })]);
    const items = [
      ...Array.from({ length: 45 }, (_, i) => sms(UK, `one part ${i}`, 'low')),
      ...Array.from({ length: 10 }, (_, i) => sms(UK, `${i} ${'x'.repeat(400)}`, 'low')), // 3 parts each
    ];
    sender.enqueue(await queue(store, items));

    await waitFor(() => statuses.length === items.length, 'every SMS submitted', 30_000);
    expect(statuses.every((s) => s.state === 'submitted')).toBe(true);
    expect(throttled).toBe(0);
    expect(arrivals.length).toBe(45 + 10 * 3);
  });
});

describe('Sender window and the record of a submit', () => {
  it('counts a submit against the window until its answer is committed: a crash re-sends at most a window', async () => {
    const store = new FaultyStore(await openStore(workDir()));
    const { sim, port } = await startSim(cleanup);
    const client = startClient(cleanup, port);
    await waitBound(client);
    const submits = countSubmits(sim);
    const queued = await queue(
      store,
      Array.from({ length: 12 }, (_, i) => sms(UK, `sms ${i}`)),
    );
    // from now on every commit waits 1 s: the SMSC has answered, the bridge has not yet written it down
    store.add({ op: 'transaction', nth: 'all', kind: 'delay', ms: 1_000 });
    const { sender, statuses } = await startSender(store, [connection(client, { window: 4, tps: 1_000 })]);
    sender.enqueue(queued);
    await waitFor(() => submits.n >= 4, 'a window of submits', 5_000);
    // long enough for the other 8 to go if answered-but-unrecorded submits left the window
    await new Promise((r) => setTimeout(r, 500));
    expect(statuses.filter((s) => s.state === 'submitted')).toHaveLength(0);
    expect(submits.n).toBe(4);
    await waitFor(
      () => statuses.filter((s) => s.state === 'submitted').length === 12,
      'all recorded',
      10_000,
    );
    expect(submits.n).toBe(12);
  });

  it('stop() resolves only once the submits in flight are answered, committed and announced', async () => {
    const store = new FaultyStore(await openStore(workDir()));
    const { sim, port } = await startSim(cleanup);
    const client = startClient(cleanup, port);
    await waitBound(client);
    const submits = countSubmits(sim);
    const queued = await queue(
      store,
      Array.from({ length: 3 }, (_, i) => sms(UK, `sms ${i}`)),
    );
    // every commit from now on waits 500 ms: the answers are in, their record is not
    store.add({ op: 'transaction', nth: 'all', kind: 'delay', ms: 500 });
    const { sender, statuses } = await startSender(store, [connection(client)]);
    sender.enqueue(queued);
    await waitFor(() => submits.n === 3, 'three submits sent', 5_000);
    expect(statuses).toHaveLength(0);
    await sender.stop();
    const told = statuses.map((s) => [s.id, s.state]).sort((a, b) => Number(a[0]) - Number(b[0]));
    expect(told).toEqual(queued.map((q) => [q.id, 'submitted']));
    for (const q of queued) expect((await store.getSms(q.id))?.state).toBe('submitted');
  });
});

describe('Sender and a status listener that throws', () => {
  it('logs the listener, not the store, and goes on sending: the state stays committed', async () => {
    const store = await openStore(workDir());
    const { sim, port } = await startSim(cleanup);
    const client = startClient(cleanup, port);
    await waitBound(client);
    const log = captureLog();
    const told: SmsRecord[] = [];
    let calls = 0;
    await startSender(store, [connection(client)], {
      logger: log.logger,
      onStatus: (s) => {
        if (calls++ === 0) throw new Error('listener broke');
        told.push(s);
      },
    }).then(async ({ sender }) => {
      const [first] = await queue(store, [sms(UK, 'first')]);
      sender.enqueue([first!]);
      await waitFor(() => sim.received.length === 1, 'the first SMS at the SMSC', 5_000);
      await waitFor(
        () => log.lines.some((l) => l.msg === 'SMS status listener failed'),
        'the listener failure logged',
        5_000,
      );
      const line = log.lines.find((l) => l.msg === 'SMS status listener failed')!;
      expect(line.sms_id).toBe(first!.id);
      expect(log.messages()).not.toContain(
        'could not record the SMS state; it will be retried after a restart',
      );
      expect((await store.getSms(first!.id))?.state).toBe('submitted');
      sender.enqueue(await queue(store, [sms(UK, 'second')]));
      await waitFor(() => told.length === 1, 'the second SMS told', 5_000);
      expect(told[0]).toMatchObject({ text: 'second', state: 'submitted' });
    });
  });
});
