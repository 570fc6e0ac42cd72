import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isBridgeError } from '../../src/errors.js';
import { matchReceipt, recordSubmit } from '../../src/smpp/receipt-match.js';
import type { AlertChange, AlertRecord } from '../../src/store/alert-types.js';
import type { HistoryKind, NewSms, SmsRecord, Store, SubmittedPart, Tx } from '../../src/store/store.js';
import { alertRecord as alert } from '../helpers/alert-record.js';

/**
 * The Store contract (in the spirit of aedes-persistence's abstract tests): every adapter runs this suite.
 * `open` gives a fresh store; `reopen` the same data through a new instance (a restart).
 */
export interface ContractTarget {
  open(): Promise<Store>;
  reopen(): Promise<Store>;
  cleanup(): Promise<void>;
}

const sms = (to: string, text = 'hello'): NewSms => ({
  to,
  text,
  priority: 'normal',
  source: 'test',
  expiresAt: Date.now() + 60_000,
});

const noHeld = { heldAdded: [], heldRemoved: [], heldMoved: [], sent: [] };

export function storeContract(name: string, target: () => ContractTarget): void {
  describe(`Store contract: ${name}`, () => {
    let t: ContractTarget;
    let store: Store;
    beforeEach(async () => {
      t = target();
      store = await t.open();
    });
    afterEach(async () => {
      await store.stop();
      await t.cleanup();
    });

    it('commits every write of a transaction, or none when it throws', async () => {
      await expect(
        store.transaction(async (tx) => {
          await tx.outbox.enqueue([sms('+447700900001')]);
          throw new Error('boom');
        }),
      ).rejects.toThrow('boom');
      expect(await store.listSms()).toEqual([]);
      const [a] = await store.transaction((tx) => tx.outbox.enqueue([sms('+447700900002')]));
      expect(a?.state).toBe('queued');
      expect(await store.pendingSms()).toHaveLength(1);
    });

    it('a failing transaction does not take concurrent ones down with it', async () => {
      const results = await Promise.allSettled(
        Array.from({ length: 50 }, (_, i) =>
          store.transaction(async (tx) => {
            const [r] = await tx.outbox.enqueue([sms(`+4477009${String(i).padStart(5, '0')}`)]);
            if (i % 10 === 3) throw new Error(`fail ${i}`);
            return r!.id;
          }),
        ),
      );
      const ok = results
        .filter((r) => r.status === 'fulfilled')
        .map((r) => (r as PromiseFulfilledResult<number>).value);
      expect(ok).toHaveLength(45);
      expect(new Set(ok).size).toBe(45);
      expect((await store.pendingSms()).map((s) => s.id)).toEqual([...ok].sort((a, b) => a - b));
    });

    it('returns enqueued SMS in the order given, with ascending ids', async () => {
      const texts = Array.from({ length: 50 }, (_, i) => `t${(i * 37) % 50}`);
      const rows = await store.transaction((tx) =>
        tx.outbox.enqueue(texts.map((x) => sms('+447700900001', x))),
      );
      expect(rows.map((r) => r.text)).toEqual(texts);
      expect(rows.map((r) => r.id)).toEqual([...rows.map((r) => r.id)].sort((a, b) => a - b));
      expect((await store.pendingSms()).map((r) => r.text)).toEqual(texts);
    });

    it('returns from enqueue exactly the record it stores', async () => {
      const items: NewSms[] = [
        sms('+447700900001', 'plain'),
        {
          ...sms('+447700900002', 'every field'),
          priority: 'critical',
          source: 'rule:r',
          ruleId: 'r',
          deviceId: 'd',
          alertRef: '7',
          maxParts: 3,
          registeredDelivery: false,
        },
        { ...sms('+447700900003', 'receipt asked'), registeredDelivery: true },
      ];
      const records = await store.transaction((tx) => tx.outbox.enqueue(items));
      for (const r of records) expect(r).toEqual(await store.getSms(r.id));
    });

    it('returns from a submit the SMS as stored, whatever the record the caller saw of it', async () => {
      const expiresAt = Date.now() + 60_000;
      const items: NewSms[] = ['1', '2', '3', '4', '5', '6'].map((n) => ({
        ...sms(`+44770090000${n}`, `sms ${n}`),
        expiresAt,
        ruleId: 'r',
        deviceId: 'd',
        maxParts: 2,
        registeredDelivery: true,
      }));
      const [fresh, twoParts, retried, requeued, partly, other] = await store.transaction((tx) =>
        tx.outbox.enqueue(items),
      );
      const one = (messageId: string) => [{ seq: 1, messageId, alternate: messageId }];
      const submit = (id: number, parts: SubmittedPart[], seen: SmsRecord | undefined) =>
        store.transaction((tx) => tx.outbox.markSubmitted(id, 'main', parts, seen));
      const stored = async (id: number) => (await store.getSms(id))!;
      // the record it saw is the stored one: one part in the SMS's row, or two
      expect(await submit(fresh!.id, one('a1'), fresh)).toEqual(await stored(fresh!.id));
      const parts = [
        { seq: 1, messageId: 'b1' },
        { seq: 2, messageId: 'b2', alternate: '178' },
      ];
      expect(await submit(twoParts!.id, parts, twoParts)).toEqual(await stored(twoParts!.id));
      // stale: an attempt counted since, a requeue with a new expiry since, a part settled since
      await store.transaction((tx) => tx.outbox.recordAttempt(retried!.id, 8, 'throttled'));
      const afterRetry = await submit(retried!.id, one('c1'), retried);
      expect(afterRetry).toEqual(await stored(retried!.id));
      expect(afterRetry).toMatchObject({ attempts: 2, errorCode: null, error: null });
      await store.transaction((tx) => tx.outbox.markFailed(requeued!.id, 'failed', 8, 'x'));
      await store.transaction((tx) => tx.outbox.requeue(requeued!.id, requeued!.expiresAt + 5_000));
      const afterRequeue = await submit(requeued!.id, one('d1'), requeued);
      expect(afterRequeue).toEqual(await stored(requeued!.id));
      expect(afterRequeue.expiresAt).toBe(requeued!.expiresAt + 5_000);
      const first = await submit(partly!.id, parts.slice(0, 1).concat([{ seq: 2, messageId: 'e2' }]), partly);
      await store.transaction((tx) =>
        tx.outbox.settlePart(
          { smsId: partly!.id, seq: 1 },
          { state: 'delivered', stat: 'DELIVRD', errorCode: null },
        ),
      );
      const again = await submit(partly!.id, [{ seq: 2, messageId: 'e3' }], first);
      expect(again).toEqual(await stored(partly!.id));
      expect(again.partsDelivered).toBe(1);
      // another SMS's record (the same attempts, expiry and counts) is not this one's
      expect(await submit(other!.id, one('f1'), fresh)).toEqual(await stored(other!.id));
      await expect(submit(999_999, one('z'), { ...fresh!, id: 999_999 })).rejects.toThrow(/no SMS/);
    });

    it('keeps what was committed across a restart, oldest first', async () => {
      await store.transaction((tx) =>
        tx.outbox.enqueue([sms('+447700900001', 'a'), sms('+447700900002', 'b')]),
      );
      await store.stop();
      store = await t.reopen();
      expect((await store.pendingSms()).map((s) => s.text)).toEqual(['a', 'b']);
    });

    it('counts attempts in the store and applies a receipt that came before its submit, in order', async () => {
      const [s] = await store.transaction((tx) => tx.outbox.enqueue([sms('+447700900001')]));
      const id = s!.id;
      const tried = await store.transaction((tx) => tx.outbox.recordAttempt(id, null, 'timeout'));
      expect(tried.attempts).toBe(1);
      const receipt = {
        connectionId: 'main',
        receiptId: 'ABC',
        format: 'auto' as const,
        state: 'delivered' as const,
        stat: 'DELIVRD',
        errorCode: null,
        receivedAt: Date.now(),
      };
      const early = await store.transaction((tx) => matchReceipt(tx, receipt, true));
      expect(early.kind).toBe('parked');
      const result = await store.transaction((tx) =>
        recordSubmit(tx, id, 'main', [{ seq: 1, messageId: 'ABC', alternate: 'abc' }]),
      );
      expect(result.submitted.state).toBe('submitted');
      expect(result.submitted.attempts).toBe(2);
      expect(result.settled.map((r) => r.state)).toEqual(['delivered']);
      expect(await store.transaction((tx) => tx.outbox.parkedFor('main', ['ABC'], ['abc']))).toEqual([]);
    });

    it('finds parts awaiting a receipt per connection, by the id as given or its other reading', async () => {
      const [a, b] = await store.transaction((tx) =>
        tx.outbox.enqueue([sms('+447700900001'), sms('+447700900002')]),
      );
      await store.transaction(async (tx) => {
        await tx.outbox.markSubmitted(a!.id, 'one', [{ seq: 1, messageId: '1A', alternate: '1a' }]);
        await tx.outbox.markSubmitted(b!.id, 'two', [{ seq: 1, messageId: '1A', alternate: '1a' }]);
      });
      const on = (c: string, exact: string[], alt: string[], since = 0) =>
        store.transaction((tx) => tx.outbox.awaitingReceipt(c, exact, alt, since));
      expect(await on('one', ['1A'], [])).toEqual({ exact: [{ smsId: a!.id, seq: 1 }], alternate: [] });
      expect(await on('two', [], ['1a'])).toEqual({ exact: [], alternate: [{ smsId: b!.id, seq: 1 }] });
      expect(await on('one', ['1a'], [])).toEqual({ exact: [], alternate: [] });
      expect(await on('one', ['1A'], [], Date.now() + 1000)).toEqual({ exact: [], alternate: [] });
      await store.transaction((tx) =>
        tx.outbox.settlePart(
          { smsId: a!.id, seq: 1 },
          { state: 'delivered', stat: 'DELIVRD', errorCode: null },
        ),
      );
      expect(await on('one', ['1A'], [])).toEqual({ exact: [], alternate: [] });
      expect((await store.getSms(a!.id))?.state).toBe('delivered');
    });

    it('finds a one-part SMS by its id whatever it keeps of its other reading, until a receipt settles it', async () => {
      // an id whose other reading is itself (SQLite keeps this part in the SMS's row), and one with none kept
      const [a, b, c, d] = await store.transaction((tx) =>
        tx.outbox.enqueue(['1', '2', '3', '4'].map((n) => sms(`+44770090000${n}`))),
      );
      await store.transaction(async (tx) => {
        await tx.outbox.markSubmitted(a!.id, 'one', [{ seq: 1, messageId: '5f', alternate: '5f' }]);
        await tx.outbox.markSubmitted(b!.id, 'one', [{ seq: 1, messageId: '60' }]);
        await tx.outbox.markSubmitted(c!.id, 'one', [{ seq: 1, messageId: '61', alternate: '61' }]);
        await tx.outbox.markSubmitted(d!.id, 'one', [{ seq: 1, messageId: '62', alternate: '62' }]);
      });
      const on = (conn: string, exact: string[], alt: string[], since = 0) =>
        store.transaction((tx) => tx.outbox.awaitingReceipt(conn, exact, alt, since));
      const none = { exact: [], alternate: [] };
      expect(await on('one', ['5f'], ['5f'])).toEqual({
        exact: [{ smsId: a!.id, seq: 1 }],
        alternate: [{ smsId: a!.id, seq: 1 }],
      });
      // no other reading kept: found as given only
      expect(await on('one', ['60'], ['60'])).toEqual({ exact: [{ smsId: b!.id, seq: 1 }], alternate: [] });
      expect(await on('two', ['5f'], ['5f'])).toEqual(none);
      expect(await on('one', ['5F'], [])).toEqual(none);
      expect(await on('one', ['5f'], [], Date.now() + 1000)).toEqual(none);
      const settle = (id: number, state: 'delivered' | 'failed' | 'expired', stat: string) =>
        store.transaction((tx) =>
          tx.outbox.settlePart(
            { smsId: id, seq: 1 },
            { state, stat, errorCode: state === 'failed' ? 11 : null },
          ),
        );
      const delivered = await settle(a!.id, 'delivered', 'DELIVRD');
      expect(delivered.changed).toBe(true);
      expect(delivered.sms).toMatchObject({
        state: 'delivered',
        partsTotal: 1,
        partsDelivered: 1,
        partsFailed: 0,
      });
      expect((await settle(c!.id, 'failed', 'UNDELIV')).sms).toMatchObject({
        state: 'failed',
        partsDelivered: 0,
        partsFailed: 1,
        errorCode: 11,
        error: 'receipt UNDELIV',
      });
      expect((await settle(d!.id, 'expired', 'EXPIRED')).sms).toMatchObject({
        state: 'expired',
        partsFailed: 1,
      });
      for (const id of ['5f', '61', '62']) expect(await on('one', [id], [id])).toEqual(none);
      expect(await store.getSms(a!.id)).toEqual(delivered.sms);
    });

    it('forgets the ids of an earlier submit once an SMS is requeued or submitted again', async () => {
      const [a, b] = await store.transaction((tx) =>
        tx.outbox.enqueue([sms('+447700900001'), sms('+447700900002')]),
      );
      await store.transaction(async (tx) => {
        await tx.outbox.markSubmitted(a!.id, 'one', [{ seq: 1, messageId: '70', alternate: '70' }]);
        await tx.outbox.markSubmitted(b!.id, 'one', [{ seq: 1, messageId: '71', alternate: '71' }]);
      });
      const on = (exact: string) =>
        store.transaction((tx) => tx.outbox.awaitingReceipt('one', [exact], [exact], 0));
      await store.transaction((tx) => tx.outbox.markFailed(a!.id, 'failed', null, 'gave up'));
      expect((await store.transaction((tx) => tx.outbox.requeue(a!.id, Date.now() + 60_000)))?.state).toBe(
        'queued',
      );
      // a late receipt for the attempt before the requeue settles nothing
      expect(await on('70')).toEqual({ exact: [], alternate: [] });
      // submitted again in two parts: the receipt of the earlier single part finds nothing either
      await store.transaction((tx) =>
        tx.outbox.markSubmitted(b!.id, 'one', [
          { seq: 1, messageId: '72', alternate: '72' },
          { seq: 2, messageId: '73', alternate: '73' },
        ]),
      );
      expect(await on('71')).toEqual({ exact: [], alternate: [] });
      expect(await on('73')).toEqual({
        exact: [{ smsId: b!.id, seq: 2 }],
        alternate: [{ smsId: b!.id, seq: 2 }],
      });
    });

    it('bounds parked receipts by age and count', async () => {
      const park = (receiptId: string, receivedAt: number) =>
        store.transaction((tx) =>
          tx.outbox.parkReceipt(
            {
              connectionId: 'main',
              receiptId,
              format: 'auto',
              state: 'delivered',
              stat: 'DELIVRD',
              errorCode: null,
              receivedAt,
            },
            [{ key: receiptId, kind: 'exact' }],
          ),
        );
      await park('old', 1);
      for (let i = 0; i < 5; i++) await park(`r${i}`, Date.now());
      const expired = await store.transaction((tx) => tx.outbox.expireParked(Date.now() - 60_000, 3));
      expect(expired.map((r) => r.receiptId)).toEqual(['old', 'r0', 'r1']);
      const left = await store.transaction((tx) =>
        tx.outbox.parkedFor('main', ['r2', 'r3', 'r4', 'old'], []),
      );
      expect(left.map((r) => r.receiptId)).toEqual(['r2', 'r3', 'r4']);
    });

    it('refuses an alert write based on a version that was never committed', async () => {
      await store.transaction((tx) =>
        tx.alerts.save({ alerts: [{ alert: alert(1, 1), recipients: [], base: 0 }], ...noHeld }),
      );
      const stale = store.transaction((tx) =>
        tx.alerts.save({
          alerts: [{ alert: alert(1, 3, { count: 3 }), recipients: [], base: 2 }],
          ...noHeld,
        }),
      );
      await expect(stale).rejects.toSatisfy((err) => isBridgeError(err, 'ERR_STORE_CONFLICT'));
      const duplicate = store.transaction((tx) =>
        tx.alerts.save({ alerts: [{ alert: alert(1, 1), recipients: [], base: 0 }], ...noHeld }),
      );
      await expect(duplicate).rejects.toBeDefined();
      await store.transaction((tx) =>
        tx.alerts.save({
          alerts: [{ alert: alert(1, 2, { count: 2 }), recipients: [], base: 1 }],
          ...noHeld,
        }),
      );
      const loaded = await store.loadAlerts(Date.now());
      expect(loaded.alerts.map((a) => [a.alert.count, a.alert.version])).toEqual([[2, 2]]);
      expect(loaded.nextAlertId).toBe(2);
    });

    it('two writers with stale books: a taken id, a live rule+device or ref, or a held row gone is a conflict', async () => {
      const save = (a: AlertRecord, extra: Partial<AlertChange> = {}) =>
        store.transaction((tx) =>
          tx.alerts.save({ alerts: [{ alert: a, recipients: [], base: 0 }], ...noHeld, ...extra }),
        );
      const conflict = (err: unknown) => isBridgeError(err, 'ERR_STORE_CONFLICT');
      const held = (id: number, alertId: number) => ({
        id,
        phone: '+447700900001',
        contactId: undefined,
        name: undefined,
        alertId,
        step: 0,
        priority: 'high' as const,
        heldAt: 1,
        flushAt: 2,
      });
      await save(alert(1, 1), { heldAdded: [held(1, 1)] });
      // the same id for another device, another id for the same rule and device, another id with the same ref
      await expect(save(alert(1, 1, { deviceId: 'e', ref: '7' }))).rejects.toSatisfy(conflict);
      await expect(save(alert(2, 1, { ref: '2' }))).rejects.toSatisfy(conflict);
      await expect(save(alert(2, 1, { deviceId: 'e', ref: '1' }))).rejects.toSatisfy(conflict);
      // a held SMS id already taken, then one already flushed by the other writer
      await expect(
        save(alert(2, 1, { deviceId: 'e', ref: '2' }), { heldAdded: [held(1, 2)] }),
      ).rejects.toSatisfy(conflict);
      await store.transaction((tx) => tx.alerts.save({ ...noHeld, alerts: [], heldRemoved: [1] }));
      await expect(
        store.transaction((tx) => tx.alerts.save({ ...noHeld, alerts: [], heldRemoved: [1] })),
      ).rejects.toSatisfy(conflict);
      // a resolved alert frees its rule, device and ref
      await store.transaction((tx) =>
        tx.alerts.save({
          alerts: [{ alert: alert(1, 2, { state: 'resolved' }), recipients: [], base: 1 }],
          ...noHeld,
        }),
      );
      await save(alert(2, 1));
      expect((await store.loadAlerts(Date.now())).alerts.map((a) => a.alert.id)).toEqual([2]);
    });

    it('allocates alert ids and ref numbers, never the same twice, also to concurrent transactions', async () => {
      const open = (tx: Tx, got: Array<{ id: number; ref: number }>) =>
        tx.alerts.save({
          alerts: got.map((x) => ({
            alert: alert(x.id, 1, { ref: String(x.ref), deviceId: `d${x.id}` }),
            recipients: [],
            base: 0,
          })),
          ...noHeld,
        });
      const [first] = await store.transaction(async (tx) => {
        const got = await tx.alerts.allocate(1);
        await open(tx, got);
        return got;
      });
      // each transaction opens the alerts it drew (SQLite allocates after the newest alert)
      const drawn = await Promise.all(
        Array.from({ length: 6 }, () =>
          store.transaction(async (tx) => {
            const got = await tx.alerts.allocate(2);
            await open(tx, got);
            return got;
          }),
        ),
      );
      const flat = drawn.flat();
      expect(new Set(flat.map((x) => x.id)).size).toBe(12);
      expect(new Set(flat.map((x) => x.ref)).size).toBe(12);
      expect(Math.min(...flat.map((x) => x.id))).toBeGreaterThan(first!.id);
      expect(Math.min(...flat.map((x) => x.ref))).toBeGreaterThan(first!.ref);
      expect(await store.transaction((tx) => tx.alerts.allocate(0))).toEqual([]);
    });

    it('reads live alerts by rule and device or by ref under a lock a concurrent decision waits for', async () => {
      const r = {
        phone: '+447700900001',
        contactId: 'a',
        name: 'A',
        step: 0,
        smsId: null,
        toldAt: 5,
        smsState: null,
      };
      await store.transaction((tx) =>
        tx.alerts.save({
          alerts: [
            { alert: alert(1, 1), recipients: [r], base: 0 },
            { alert: alert(2, 1, { deviceId: 'e', state: 'resolved' }), recipients: [], base: 0 },
            { alert: alert(3, 1, { deviceId: 'f' }), recipients: [], base: 0 },
          ],
          ...noHeld,
        }),
      );
      const live = await store.transaction((tx) =>
        tx.alerts.lockLive({
          keys: [
            { ruleId: 'r', deviceId: 'd' },
            { ruleId: 'r', deviceId: 'e' },
          ],
          refs: ['3', '2', '1'],
        }),
      );
      expect(live.map((a) => a.alert.id)).toEqual([1, 3]);
      expect(live[0]!.recipients).toEqual([r]);
      expect(await store.transaction((tx) => tx.alerts.lockLive({}))).toEqual([]);
      // the first holds alert 1 while it decides; the second reads it only once the first committed
      let decided!: () => void;
      const deciding = new Promise<void>((resolve) => {
        decided = resolve;
      });
      const first = store.transaction(async (tx) => {
        await tx.alerts.lockLive({ keys: [{ ruleId: 'r', deviceId: 'd' }] });
        await deciding;
        await tx.alerts.save({
          alerts: [{ alert: alert(1, 2, { count: 2 }), recipients: [], base: 1 }],
          ...noHeld,
        });
      });
      await new Promise((resolve) => setTimeout(resolve, 50));
      const second = store.transaction((tx) => tx.alerts.lockLive({ refs: ['1'] }));
      await new Promise((resolve) => setTimeout(resolve, 100));
      decided();
      await first;
      expect((await second).map((a) => [a.alert.count, a.alert.version])).toEqual([[2, 2]]);
    });

    it('stores every field of an alert as written, when it opens and when it changes', async () => {
      // a distinct value per field, so a value bound to the wrong column shows
      const opened = alert(1, 1, {
        ref: 'R1',
        ruleId: 'rule-1',
        deviceId: 'dev-1',
        label: 'label-1',
        text: 'text-1',
        openedAt: 11,
        updatedAt: 12,
        lastSeenAt: 13,
        lastSentAt: 14,
        count: 15,
        step: 16,
        nextEscalationAt: 17,
        receiptDueAt: 18,
      });
      const save = (a: AlertRecord, base: number) =>
        store.transaction((tx) =>
          tx.alerts.save({ alerts: [{ alert: a, recipients: [], base }], ...noHeld }),
        );
      await save(opened, 0);
      expect((await store.loadAlerts(Date.now())).alerts.map((a) => a.alert)).toEqual([opened]);
      // what a decision changes (everything but the identity and the opening time)
      const changed: AlertRecord = {
        ...opened,
        state: 'acked',
        priority: 'critical',
        text: 'text-2',
        updatedAt: 22,
        lastSeenAt: 23,
        lastSentAt: 24,
        count: 25,
        step: 26,
        nextEscalationAt: 27,
        receiptDueAt: 28,
        ackedBy: 'acker',
        ackedPhone: '+447700900002',
        ackedAt: 29,
        resolvedAt: 30,
        resolveReason: 'reason',
        version: 2,
      };
      await save(changed, 1);
      expect((await store.loadAlerts(Date.now())).alerts.map((a) => a.alert)).toEqual([changed]);
    });

    it('never unlinks a recipient from its SMS with an older snapshot', async () => {
      const r = { phone: '+447700900001', contactId: 'a', name: 'A', step: 0, toldAt: 5, smsState: 'queued' };
      await store.transaction((tx) =>
        tx.alerts.save({
          alerts: [{ alert: alert(1, 1), recipients: [{ ...r, smsId: 9 }], base: 0 }],
          ...noHeld,
        }),
      );
      await store.transaction((tx) =>
        tx.alerts.save({
          alerts: [{ alert: alert(1, 2), recipients: [{ ...r, smsId: null }], base: 1 }],
          ...noHeld,
        }),
      );
      const [loaded] = (await store.loadAlerts(Date.now())).alerts;
      expect(loaded?.recipients[0]?.smsId).toBe(9);
    });

    it('removes old history from the oldest, in batches, and never what is still to do', async () => {
      const purge = (kind: HistoryKind, before: number, after = 0, limit = 100) =>
        store.transaction((tx) => tx.history.purge(kind, before, after, limit));
      const pause = () => new Promise((r) => setTimeout(r, 5));
      const A = '+447700900001';
      const B = '+447700900002';
      // before the cut: a queued SMS, a submitted one with its part, a failed one
      const [queued, submitted, failed] = await store.transaction((tx) =>
        tx.outbox.enqueue([sms(A, 'q'), sms(A, 's'), sms(A, 'f')]),
      );
      await store.transaction((tx) =>
        recordSubmit(tx, submitted!.id, 'main', [{ seq: 1, messageId: 'M1', alternate: 'm1' }]),
      );
      await store.transaction((tx) => tx.outbox.markFailed(failed!.id, 'failed', null, 'no'));
      await pause();
      const cut = Date.now();
      await pause();
      const [fresh] = await store.transaction((tx) => tx.outbox.enqueue([sms(A, 'new')]));
      await store.transaction((tx) => tx.outbox.markFailed(fresh!.id, 'failed', null, 'no'));
      // two rows a batch: the queued one is passed over, the scan resumes after its cursor and stops at the cut
      expect(await purge('sms', cut, 0, 2)).toEqual({ deleted: 1, next: submitted!.id, done: false });
      expect(await purge('sms', cut, submitted!.id, 2)).toEqual({ deleted: 1, next: failed!.id, done: true });
      expect((await store.listSms()).map((s) => s.text).sort()).toEqual(['new', 'q']);
      expect(queued!.state).toBe('queued');
      // the part went with its SMS
      expect(await store.transaction((tx) => tx.outbox.awaitingReceipt('main', ['M1'], ['m1'], 0))).toEqual({
        exact: [],
        alternate: [],
      });

      // alerts: resolved before the cut (with a recipient), live, resolved after the cut, opened after it
      const r = { phone: A, contactId: 'a', name: 'A', step: 0, toldAt: 5, smsState: 'queued', smsId: 1 };
      const resolved = { state: 'resolved' as const, resolveReason: 'ok' };
      await store.transaction((tx) =>
        tx.alerts.save({
          alerts: [
            { alert: alert(1, 1, { ...resolved, resolvedAt: cut - 1 }), recipients: [r], base: 0 },
            { alert: alert(2, 1, { openedAt: 2 }), recipients: [r], base: 0 },
            {
              alert: alert(3, 1, { ...resolved, openedAt: 3, resolvedAt: cut + 10 }),
              recipients: [],
              base: 0,
            },
            {
              alert: alert(4, 1, { ...resolved, openedAt: cut + 5, resolvedAt: cut + 6 }),
              recipients: [],
              base: 0,
            },
          ],
          ...noHeld,
          sent: [
            { phone: A, at: 1 },
            { phone: A, at: cut + 1 },
          ],
        }),
      );
      expect(await purge('alerts', cut)).toEqual({ deleted: 1, next: 3, done: true });
      expect((await store.loadAlerts(Date.now())).alerts.map((a) => a.alert.id)).toEqual([2]);
      expect((await purge('alerts', cut + 100)).deleted).toBe(2);
      expect((await purge('sent', cut)).deleted).toBe(1);
      expect((await purge('sent', cut + 2)).deleted).toBe(1);

      // the inbound audit, the last MO per sender, commands (one still to publish)
      const audit = (from: string, at: number) => ({
        receivedAt: at,
        from,
        to: 'BRIDGE',
        text: 'x',
        dedupeKey: `${from}${at}`,
        outcome: 'command',
      });
      const command = (requestId: string, createdAt: number) => ({
        requestId,
        deviceId: 'pump-7',
        command: 'stop',
        from: A,
        topic: 'devices/pump-7/commands',
        payload: '{}',
        createdAt,
      });
      await store.transaction(async (tx) => {
        await tx.inbound.record(audit(A, 1));
        await tx.inbound.record(audit(A, 2));
        await tx.inbound.record(audit(B, cut + 1));
        await tx.inbound.addCommand(command('published', 1));
        await tx.inbound.markPublished('published', 1);
        await tx.inbound.addCommand(command('unpublished', 1));
        await tx.inbound.addCommand(command('newer', cut + 1));
        await tx.inbound.markPublished('newer', cut + 1);
      });
      expect((await purge('inbound', cut)).deleted).toBe(2);
      expect((await purge('inbound', cut)).deleted).toBe(0);
      expect((await purge('commands', cut)).deleted).toBe(1);
      expect((await store.unpublishedCommands()).map((c) => c.requestId)).toEqual(['unpublished']);
      expect((await purge('senders', cut)).deleted).toBe(1);
      expect(await store.lastInbound(A)).toBeUndefined();
      expect(await store.lastInbound(B)).toEqual({ dedupeKey: `${B}${cut + 1}`, receivedAt: cut + 1 });
    });

    it('keeps MO parts until the transaction that records the message forgets them', async () => {
      const part = (seq: number) => ({
        from: '+447700900001',
        ref: 7,
        total: 2,
        seq,
        dataCoding: 0,
        body: Buffer.from(`p${seq}`),
      });
      expect(await store.transaction((tx) => tx.inbound.addPart(part(1)))).toBeUndefined();
      const all = await store.transaction((tx) => tx.inbound.addPart(part(2)));
      expect(all?.map((p) => p.body.toString())).toEqual(['p1', 'p2']);
      // the re-delivered last part completes the message again until it is recorded
      expect(await store.transaction((tx) => tx.inbound.addPart(part(2)))).toHaveLength(2);
      await store.transaction((tx) => tx.inbound.dropParts('+447700900001', 7, 2));
      expect(await store.transaction((tx) => tx.inbound.addPart(part(2)))).toBeUndefined();
    });

    it('remembers the last SMS per sender (not re-deliveries) and commands per device', async () => {
      const audit = (text: string, outcome: string, at: number) => ({
        receivedAt: at,
        from: '+447700900001',
        to: 'BRIDGE',
        text,
        dedupeKey: text,
        outcome,
      });
      await store.transaction(async (tx) => {
        await tx.inbound.record(audit('stop', 'command', 1));
        await tx.inbound.record(audit('stop', 'duplicate', 2));
      });
      expect(await store.lastInbound('+447700900001')).toEqual({ dedupeKey: 'stop', receivedAt: 1 });
      const command = {
        requestId: 'req-1',
        deviceId: 'pump-7',
        command: 'stop',
        from: '+447700900001',
        topic: 'devices/pump-7/commands',
        payload: '{}',
        createdAt: 1,
      };
      await store.transaction((tx) => tx.inbound.addCommand(command));
      expect((await store.unpublishedCommands()).map((c) => c.requestId)).toEqual(['req-1']);
      await store.transaction((tx) => tx.inbound.markPublished('req-1', 2));
      expect(await store.unpublishedCommands()).toEqual([]);
      // a result is taken only by the device the command was issued to, and only once
      expect(await store.transaction((tx) => tx.inbound.takeResult('req-1', 'pump-9', 3))).toBeUndefined();
      expect(await store.transaction((tx) => tx.inbound.takeResult('req-1', 'pump-7', 3))).toMatchObject(
        command,
      );
      expect(await store.transaction((tx) => tx.inbound.takeResult('req-1', 'pump-7', 4))).toBeUndefined();
    });

    it('keeps small keyed state and counts replies per number', async () => {
      await store.transaction(async (tx) => {
        await tx.kv.put('telemetry', 'pump-7', Buffer.from('{"temp":40}'), 10);
        await tx.kv.put('telemetry', 'pump-7', Buffer.from('{"temp":41}'), 11);
        await tx.outbox.enqueue([{ ...sms('+447700900001'), source: 'reply' }, sms('+447700900001')]);
      });
      expect(await store.loadKv('telemetry')).toEqual([
        { key: 'pump-7', value: Buffer.from('{"temp":41}'), at: 11 },
      ]);
      expect(await store.countReplies('+447700900001', 0)).toBe(1);
      expect(await store.healthy()).toBe(true);
    });

    it('gives every instance the first value put if absent, of several put at once', async () => {
      const others = [await t.reopen(), await t.reopen()];
      try {
        const stores = [store, ...others];
        const got = await Promise.all(
          stores.map((s, i) =>
            s.transaction((tx) => tx.kv.putIfAbsent('secret', 'k', Buffer.from(`value ${i}`), i)),
          ),
        );
        const stored = (await store.loadKv('secret'))[0]?.value;
        expect(stored).toBeDefined();
        for (const value of got) expect(value).toEqual(stored);
        // and later ones keep it
        expect(
          await store.transaction((tx) => tx.kv.putIfAbsent('secret', 'k', Buffer.from('late'), 9)),
        ).toEqual(stored);
      } finally {
        for (const o of others) await o.stop();
      }
    });

    it('of two transactions writing one alert from the same version, one commits and one conflicts', async () => {
      await store.transaction((tx) =>
        tx.alerts.save({ alerts: [{ alert: alert(1, 1), recipients: [], base: 0 }], ...noHeld }),
      );
      const other = await t.reopen();
      try {
        const write = (s: Store, count: number) =>
          s.transaction(async (tx) => {
            await tx.alerts.save({
              alerts: [{ alert: alert(1, 2, { count }), recipients: [], base: 1 }],
              ...noHeld,
            });
            // both are in flight before either commits
            await tx.outbox.enqueue([sms('+447700900001')]);
          });
        const results = await Promise.allSettled([write(store, 10), write(other, 20)]);
        const failed = results.filter((r) => r.status === 'rejected');
        expect(failed).toHaveLength(1);
        expect(isBridgeError((failed[0] as PromiseRejectedResult).reason, 'ERR_STORE_CONFLICT')).toBe(true);
        const [loaded] = (await store.loadAlerts(Date.now())).alerts;
        expect(loaded?.alert.version).toBe(2);
        expect(await store.pendingSms()).toHaveLength(1);
        // a new alert id taken by two instances at once: one of them conflicts
        const open = (s: Store, id: number) =>
          s.transaction((tx) =>
            tx.alerts.save({
              alerts: [{ alert: alert(id, 1, { deviceId: 'e', ref: '2' }), recipients: [], base: 0 }],
              ...noHeld,
            }),
          );
        const opened = await Promise.allSettled([open(store, 2), open(other, 2)]);
        const lost = opened.filter((r) => r.status === 'rejected');
        expect(lost).toHaveLength(1);
        expect(isBridgeError((lost[0] as PromiseRejectedResult).reason, 'ERR_STORE_CONFLICT')).toBe(true);
      } finally {
        await other.stop();
      }
    });

    it('gives unique ids to SMS enqueued at once by two instances on one store', async () => {
      const other = await t.reopen();
      try {
        const enqueue = (s: Store, i: number) =>
          s.transaction(async (tx) => {
            const rows = await tx.outbox.enqueue([
              sms(`+4477009${String(i).padStart(5, '0')}`),
              sms('+447700900000'),
            ]);
            return rows.map((r) => r.id);
          });
        const ids = (
          await Promise.all(Array.from({ length: 20 }, (_, i) => enqueue(i % 2 ? other : store, i)))
        ).flat();
        expect(new Set(ids).size).toBe(40);
        expect((await store.pendingSms()).map((s) => s.id)).toEqual([...ids].sort((a, b) => a - b));
      } finally {
        await other.stop();
      }
    });

    it('gives a free lease to exactly one of several instances taking it at once', async () => {
      const others = [await t.reopen(), await t.reopen()];
      try {
        const stores = [store, ...others];
        const leases = await Promise.all(
          stores.map((s, i) => s.transaction((tx) => tx.leases.acquire('smpp:main', `i${i}`, 1_000, 10_000))),
        );
        const owners = new Set(leases.map((l) => l.owner));
        expect(owners.size).toBe(1);
        // each instance was told the truth: only the owner sees its own name
        expect(leases.filter((l, i) => l.owner === `i${i}`)).toHaveLength(1);
      } finally {
        for (const o of others) await o.stop();
      }
    });

    it('gives a lease to one owner at a time until it expires or is released', async () => {
      const take = (owner: string, now: number) =>
        store.transaction((tx) => tx.leases.acquire('smpp:main', owner, 1_000, now));
      expect(await take('a', 10_000)).toEqual({ name: 'smpp:main', owner: 'a', expiresAt: 11_000 });
      expect((await take('b', 10_500)).owner).toBe('a');
      expect(await take('a', 10_900)).toMatchObject({ owner: 'a', expiresAt: 11_900 });
      expect((await take('b', 11_800)).owner).toBe('a');
      expect(await take('b', 11_900)).toMatchObject({ owner: 'b', expiresAt: 12_900 });
      await store.transaction((tx) => tx.leases.release('smpp:main', 'a'));
      expect((await take('a', 12_000)).owner).toBe('b');
      await store.transaction((tx) => tx.leases.release('smpp:main', 'b'));
      expect((await take('a', 12_000)).owner).toBe('a');
    });

    it('claims each queued SMS for one owner at a time, until the claim expires or is released', async () => {
      const all = { prefixes: [], otherwise: [] };
      const queued = await store.transaction((tx) =>
        tx.outbox.enqueue(
          Array.from({ length: 30 }, (_, i) => sms(`+44770090${String(i).padStart(4, '0')}`)),
        ),
      );
      const claim = (owner: string, limit: number, now: number) =>
        store.transaction((tx) => tx.claims.claim(owner, all, limit, 1_000, now));
      // two owners claiming at once never get the same SMS
      const [a, b] = await Promise.all([claim('a', 20, 10_000), claim('b', 20, 10_000)]);
      const ids = [...a, ...b].map((r) => r.id);
      expect(new Set(ids).size).toBe(ids.length);
      expect(ids.sort((x, y) => x - y)).toEqual(queued.map((r) => r.id));
      expect(await claim('c', 50, 10_999)).toEqual([]);
      // a renewed claim holds past the first expiry; an expired one goes to whoever asks
      expect(await store.transaction((tx) => tx.claims.renew('a', 1_000, 10_900))).toBe(a.length);
      const taken = await claim('c', 50, 11_000);
      expect(taken.map((r) => r.id).sort((x, y) => x - y)).toEqual(b.map((r) => r.id).sort((x, y) => x - y));
      // sent SMS are not claimed again, released ones are
      await store.transaction((tx) => tx.outbox.markFailed(a[0]!.id, 'failed', null, 'x'));
      expect(await store.transaction((tx) => tx.claims.release('a'))).toBe(a.length - 1);
      expect((await claim('d', 50, 11_100)).map((r) => r.id)).toEqual(a.slice(1).map((r) => r.id));
    });

    it('of many owners claiming at once, no two get the same SMS', async () => {
      await store.transaction((tx) =>
        tx.outbox.enqueue(Array.from({ length: 60 }, (_, i) => sms(`+4477009${String(i).padStart(5, '0')}`))),
      );
      const owners = Array.from({ length: 8 }, (_, i) => `o${i}`);
      for (let round = 0; round < 3; round++) {
        const got = await Promise.all(
          owners.map((o) =>
            store.transaction((tx) =>
              tx.claims.claim(o, { prefixes: [], otherwise: [] }, 3, 1_000, 10_000 + round * 1_000),
            ),
          ),
        );
        const ids = got.flat().map((r) => r.id);
        expect(new Set(ids).size).toBe(ids.length);
      }
    });

    it('claims only SMS to the destinations given, highest priority first', async () => {
      const [uk, fr, us] = await store.transaction((tx) =>
        tx.outbox.enqueue([
          sms('+447700900001'),
          sms('+33600000001'),
          { ...sms('+15550000001'), priority: 'critical' },
        ]),
      );
      const claim = (owner: string, prefixes: string[], otherwise: string[] | undefined, limit = 10) =>
        store.transaction((tx) => tx.claims.claim(owner, { prefixes, otherwise }, limit, 60_000, Date.now()));
      expect(await claim('a', [], undefined)).toEqual([]);
      expect((await claim('a', ['+33'], undefined)).map((r) => r.id)).toEqual([fr!.id]);
      expect((await claim('b', [], ['+44'], 1)).map((r) => r.id)).toEqual([us!.id]);
      expect((await claim('b', [], ['+44'])).map((r) => r.id)).toEqual([]);
      expect((await claim('c', ['+4'], undefined)).map((r) => r.id)).toEqual([uk!.id]);
    });
  });
}
