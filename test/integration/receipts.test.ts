import { afterEach, describe, expect, it } from 'vitest';
import type { SmsState } from '../../src/store/store.js';
import { type Harness, startHarness, waitFor } from '../helpers/harness.js';
import { RawSmsc, type RawSmscOptions } from '../helpers/raw-smsc.js';

/**
 * Receipts settle the right SMS whatever the SMSC's id scheme: the bridge against an SMSC written on raw
 * sockets (no `smpp` package), 1,000 SMS per scheme, every final state checked against what the SMSC said.
 */

const N = 1000;
const FINAL: Record<string, SmsState> = { DELIVRD: 'delivered', UNDELIV: 'failed', EXPIRED: 'expired' };
/** a state per destination, so every SMS's right final state is known */
const statFor = (dest: string) =>
  Number(dest.slice(-3)) % 7 === 0 ? 'UNDELIV' : Number(dest.slice(-3)) % 11 === 0 ? 'EXPIRED' : 'DELIVRD';

describe('receipts settle the right SMS (independent raw-socket SMSC)', () => {
  let h: Harness | undefined;
  let smsc: RawSmsc | undefined;
  afterEach(async () => {
    await h?.close();
    await smsc?.stop();
    h = undefined;
    smsc = undefined;
  });

  const run = async (options: RawSmscOptions, format = 'auto', n = N) => {
    smsc = new RawSmsc({ stat: (s) => statFor(s.destinationAddr), ...options });
    const { port } = await smsc.start();
    h = await startHarness({
      smscPort: port,
      connectionYaml: `      window: 50\n      tps: 100000\n      registered_delivery: true\n      message_id_format: ${format}`,
    });
    await waitFor(() => h!.app.links[0]!.bound, 'bound');
    const to = (i: number) => `+4477009${String(i).padStart(5, '0')}`;
    await h.app.queue(
      Array.from({ length: n }, (_, i) => ({
        to: to(i),
        text: `sms ${i}`,
        priority: 'normal' as const,
        source: 'test',
        expiresAt: Date.now() + 600_000,
      })),
    );
    const store = h.app.store;
    await waitFor(
      async () => {
        const c = await store.countByState();
        return c.queued + c.submitted === 0;
      },
      'every SMS settled',
      60_000,
    );
    const rows = await store.listSms({ limit: n + 10 });
    const right = rows.filter((r) => r.state === FINAL[statFor(r.to.replace('+', ''))]).length;
    return { right, total: rows.length };
  };

  it.each([
    ['decimal counter 1, 2, 3 ...', { idScheme: 'decimal' }],
    ['decimal with leading zeros', { idScheme: 'decimal_padded' }],
    ['lower-case hex', { idScheme: 'hex' }],
    ['upper-case hex, receipts in lower case', { idScheme: 'hex_upper', receiptId: 'hex' }],
    ['UUID-like', { idScheme: 'uuid' }],
    // all-digit hex ids (0x1000) cannot be told from decimal in `auto`: such an SMSC is configured as it is
    [
      'hex in submit_sm_resp, decimal in the receipt (hex_to_decimal)',
      { idScheme: 'hex_upper', receiptId: 'decimal', firstId: 4000 },
      'hex_to_decimal',
    ],
    [
      'decimal in submit_sm_resp, hex in the receipt (decimal_to_hex)',
      { idScheme: 'decimal', receiptId: 'hex' },
      'decimal_to_hex',
    ],
  ] as Array<[string, RawSmscOptions, string?]>)(
    '%s, receipts out of order: 1,000 SMS, 1,000 right final states',
    async (_name, options, format) => {
      const result = await run({ receipts: 'random', receiptMaxDelayMs: 30, ...options }, format);
      expect(result).toEqual({ right: N, total: N });
    },
    60_000,
  );

  it('receipts with no delay at all (before the submit is recorded) are parked and applied', async () => {
    expect(await run({ idScheme: 'decimal', receipts: 'immediate' }, 'auto', 300)).toEqual({
      right: 300,
      total: 300,
    });
  }, 60_000);

  it('never takes 1010 for 0x1010 = 4112: the receipt for 1010 settles only SMS 1010', async () => {
    smsc = new RawSmsc({ idScheme: 'decimal', firstId: 1010, receipts: 'held', stat: () => 'UNDELIV' });
    const { port } = await smsc.start();
    h = await startHarness({ smscPort: port, connectionYaml: '      registered_delivery: true' });
    await waitFor(() => h!.app.links[0]!.bound, 'bound');
    const [a] = await h.app.queue([
      { to: '+447700900001', text: 'A', priority: 'normal', source: 'test', expiresAt: Date.now() + 60_000 },
    ]);
    await waitFor(async () => (await h!.app.store.getSms(a!.id))?.state === 'submitted', 'A submitted');
    // B gets 4112: the SMSC's counter jumps (another client used the ids in between)
    smsc.jumpTo(4112);
    const [b] = await h.app.queue([
      { to: '+447700900002', text: 'B', priority: 'normal', source: 'test', expiresAt: Date.now() + 60_000 },
    ]);
    await waitFor(async () => (await h!.app.store.getSms(b!.id))?.state === 'submitted', 'B submitted');
    await smsc.sendReceipt(smsc.submits[0]!, 'UNDELIV');
    await waitFor(
      async () => (await h!.app.store.getSms(a!.id))?.state === 'failed',
      'A failed by its receipt',
    );
    expect((await h.app.store.getSms(b!.id))?.state).toBe('submitted');
  }, 30_000);
});
