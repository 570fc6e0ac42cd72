import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type DeliveryState, readReceipt } from '../../../src/smpp/receipt.js';

// Receipts generated in the shapes seen in the wild, from a known id and state; the parse must give them back.

const STATES: ReadonlyArray<readonly [string, DeliveryState, number]> = [
  ['DELIVRD', 'delivered', 2],
  ['UNDELIV', 'failed', 5],
  ['EXPIRED', 'expired', 3],
  ['REJECTD', 'failed', 8],
  ['DELETED', 'failed', 4],
  ['UNKNOWN', 'failed', 7],
  ['ACCEPTD', 'pending', 6],
  ['ENROUTE', 'pending', 1],
];

const hexDigits = (min: number, max: number) => fc.stringMatching(new RegExp(`^[0-9a-f]{${min},${max}}$`));

const messageId = fc.oneof(
  fc
    .tuple(fc.integer({ min: 0, max: 4 }), fc.bigInt({ min: 0n, max: 10n ** 20n }))
    .map(([zeros, n]) => `${'0'.repeat(zeros)}${n}`),
  hexDigits(1, 16).map((h) => h.toUpperCase()),
  hexDigits(1, 16),
  fc.uuid(),
);

const keyCase = fc.constantFrom(
  (k: string) => k,
  (k: string) => k.toUpperCase(),
  (k: string) => k.charAt(0).toUpperCase() + k.slice(1),
);

const freeText = fc.oneof(
  fc.constant(''),
  fc.stringMatching(/^[A-Za-z0-9 .!?]{0,20}$/),
  fc.constant('stat:DELIVRD id:999 EXPIRED'),
  fc.constant('H\u001be\u001b<llo'), // GSM 03.38 escapes as raw octets (€, [)
);

interface Generated {
  id: string;
  state: (typeof STATES)[number];
  bytes: Buffer;
  esmClass: number;
  payload: boolean;
  tlv?: { id: string; state: (typeof STATES)[number] };
}

const receipt: fc.Arbitrary<Generated> = fc
  .record({
    id: messageId,
    state: fc.constantFrom(...STATES),
    bareState: fc.boolean(),
    // [key, value] pairs other than id and stat, some left out, in any order
    others: fc.shuffledSubarray([
      ['sub', '001'],
      ['dlvrd', '001'],
      ['submit date', '2401011200'],
      ['done date', '240101120155'],
      ['err', '000'],
    ] as Array<[string, string]>),
    idFirst: fc.boolean(),
    cases: fc.array(keyCase, { minLength: 8, maxLength: 8 }),
    prefix: fc.constantFrom('', 'DLR ', 'ACK/', '#MSG#', 'Vendor-X: ', 'SMSC01'),
    suffix: fc.constantFrom('', ' mcc:234 mnc:15', ' NET:UK'),
    text: fc.option(freeText, { nil: undefined }),
    nuls: fc.integer({ min: 0, max: 3 }),
    udh: fc.option(fc.uint8Array({ maxLength: 10 }), { nil: undefined }),
    payload: fc.boolean(),
    spaceAfterColon: fc.boolean(),
    tlv: fc.option(fc.record({ id: messageId, state: fc.constantFrom(...STATES) }), { nil: undefined }),
  })
  .map((g) => {
    const sep = g.spaceAfterColon ? ': ' : ':';
    const field = ([key, value]: [string, string], i: number) => `${g.cases[i]!(key)}${sep}${value}`;
    const stat = g.bareState ? g.state[0] : field(['stat', g.state[0]], 6);
    const others = g.others.map((kv, i) => field(kv, i));
    const id = field(['id', g.id], 5);
    const parts = g.idFirst ? [id, ...others, stat] : [...others, stat, id];
    // vendor text glued to the key before it: only `id` is known to come that way (`SMSC01id:...`)
    const prefix = g.prefix === 'SMSC01' && !g.idFirst ? 'SMSC01 ' : g.prefix;
    let body = `${prefix}${parts.join(' ')}${g.suffix}`;
    if (g.text !== undefined) body += ` ${field(['text', g.text], 7)}`;
    let bytes = Buffer.concat([Buffer.from(body, 'latin1'), Buffer.alloc(g.nuls)]);
    if (g.udh) bytes = Buffer.concat([Buffer.from([g.udh.length]), g.udh, bytes]);
    return {
      id: g.id,
      state: g.state,
      bytes,
      esmClass: g.udh ? 0x44 : 0x04,
      payload: g.payload,
      ...(g.tlv ? { tlv: g.tlv } : {}),
    };
  });

function read(g: Generated) {
  return readReceipt({
    esmClass: g.esmClass,
    dataCoding: 0,
    shortMessage: g.payload ? Buffer.alloc(0) : g.bytes,
    messagePayload: g.payload ? g.bytes : undefined,
    receiptedMessageId: g.tlv?.id,
    messageState: g.tlv?.state[2],
  });
}

describe('generated receipts in the shapes seen in the wild', () => {
  it('give back their id and state (TLVs, when sent, win)', () => {
    fc.assert(
      fc.property(receipt, (g) => {
        const result = read(g);
        expect(result.parsed.id).toBe(g.id);
        expect(result.parsed.stat?.toUpperCase()).toBe(g.state[0]);
        expect(result.id).toBe(g.tlv?.id ?? g.id);
        const expected = g.tlv?.state ?? g.state;
        expect(result.outcome).toMatchObject({ state: expected[1], stat: expected[0] });
        const contradicts = g.tlv !== undefined && g.tlv.state[1] !== g.state[1];
        expect(result.conflicts.some((c) => c.field === 'state')).toBe(contradicts);
      }),
      { numRuns: 500 },
    );
  });

  it('never throw on arbitrary octets and flags', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.integer({ min: 0, max: 255 }), (bytes, esm) => {
        const result = readReceipt({ esmClass: esm, dataCoding: 0, shortMessage: Buffer.from(bytes) });
        expect(typeof result.text).toBe('string');
      }),
    );
  });
});
