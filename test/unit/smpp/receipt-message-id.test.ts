import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  canonicalId,
  chooseOwner,
  lookupKeys,
  MESSAGE_ID_FORMATS,
  type MessageIdFormat,
  type OwnerChoice,
  storedKeys,
} from '../../../src/smpp/message-id.js';

/** What the store will do: the SMS awaiting a receipt on one connection, matched by the two key columns. */
function match(
  submitted: readonly string[],
  receiptId: string,
  format: MessageIdFormat,
): OwnerChoice<number> {
  const stored = submitted.map((id) => storedKeys(id, format));
  const keys = lookupKeys(receiptId, format);
  const exact = keys.filter((k) => k.kind === 'exact').map((k) => k.key);
  const alternate = keys.filter((k) => k.kind === 'alternate').map((k) => k.key);
  const byExact = stored.flatMap((s, i) => (s && exact.includes(s.exact) ? [i] : []));
  const byAlternate = stored.flatMap((s, i) =>
    s?.alternate !== undefined && alternate.includes(s.alternate) ? [i] : [],
  );
  return chooseOwner(byExact, byAlternate, format);
}

describe('storedKeys', () => {
  it.each<[string, MessageIdFormat, ReturnType<typeof storedKeys>]>([
    ['1602718841', 'auto', { exact: '1602718841', alternate: '1602718841' }],
    ['5F878C79', 'auto', { exact: '5F878C79', alternate: '5f878c79' }],
    ['0059113978\0\0', 'hex_to_decimal', { exact: '0059113978', alternate: '59113978' }],
    ['  000 ', 'decimal_to_hex', { exact: '000', alternate: '0' }],
    ['5F878C79', 'exact', { exact: '5F878C79' }],
    [
      'BC59B8AA-2fd2-4035-8113-19301e050079',
      'auto',
      { exact: 'BC59B8AA-2fd2-4035-8113-19301e050079', alternate: 'bc59b8aa-2fd2-4035-8113-19301e050079' },
    ],
    ['0abc-01', 'auto', { exact: '0abc-01', alternate: '0abc-01' }],
    ['', 'auto', undefined],
    ['\0', 'exact', undefined],
  ])('%s (%s)', (id, format, expected) => {
    expect(storedKeys(id, format)).toEqual(expected);
  });
});

describe('lookupKeys', () => {
  const alt = (key: string) => ({ key, kind: 'alternate' as const });
  const exact = (key: string) => ({ key, kind: 'exact' as const });
  it.each<[string, MessageIdFormat, ReturnType<typeof lookupKeys>]>([
    ['1602718841', 'exact', [exact('1602718841')]],
    ['1602718841', 'hex_to_decimal', [exact('1602718841'), alt('5f878c79')]],
    ['5F878C79', 'hex_to_decimal', [exact('5F878C79'), alt('5f878c79')]],
    ['38601fa', 'decimal_to_hex', [exact('38601fa'), alt('59113978')]],
    ['16', 'decimal_to_hex', [exact('16'), alt('22')]],
    ['uuid-X', 'decimal_to_hex', [exact('uuid-X'), alt('uuid-x')]],
    // auto: a conversion only where the hex side has a letter
    ['1602718841', 'auto', [exact('1602718841'), alt('1602718841'), alt('5f878c79')]],
    ['5F878C79', 'auto', [exact('5F878C79'), alt('5f878c79'), alt('1602718841')]],
    ['16', 'auto', [exact('16'), alt('16')]],
    ['1010', 'auto', [exact('1010'), alt('1010'), alt('3f2')]],
    ['0016\0', 'auto', [exact('0016'), alt('16')]],
    ['', 'auto', []],
  ])('%s (%s)', (id, format, expected) => {
    expect(lookupKeys(id, format)).toEqual(expected);
  });
});

describe('chooseOwner: exact first; an alternate only when exactly one SMS could own the receipt', () => {
  it.each<[string, number[], number[], MessageIdFormat, OwnerChoice<number>]>([
    ['one exact', [1], [2, 3], 'auto', { owner: 1, via: 'exact' }],
    ['two exact', [1, 2], [], 'auto', { ambiguous: [1, 2], via: 'exact' }],
    ['the same row twice is one', [1, 1], [], 'auto', { owner: 1, via: 'exact' }],
    ['one alternate', [], [3], 'auto', { owner: 3, via: 'alternate' }],
    ['one alternate, configured', [], [3, 3], 'hex_to_decimal', { owner: 3, via: 'alternate' }],
    ['two alternates', [], [3, 4], 'auto', { ambiguous: [3, 4], via: 'alternate' }],
    ['two alternates, configured', [], [3, 4], 'decimal_to_hex', { ambiguous: [3, 4], via: 'alternate' }],
    ['exact ignores alternates', [], [3], 'exact', { none: true }],
    ['nothing', [], [], 'auto', { none: true }],
  ])('%s', (_name, exact, alternate, format, expected) => {
    expect(chooseOwner(exact, alternate, format)).toEqual(expected);
  });
});

describe('issue 12 scenarios', () => {
  const counter = Array.from({ length: 22 }, (_, i) => String(i + 1));

  it.each(MESSAGE_ID_FORMATS.filter((f) => f !== 'decimal_to_hex'))(
    'an SMSC numbering 1, 2, 3 ...: every receipt settles its own SMS (%s)',
    (format) => {
      for (let i = 0; i < counter.length; i++) {
        expect(match(counter, counter[i]!, format)).toEqual({ owner: i, via: 'exact' });
      }
    },
  );

  it('a receipt whose SMS is not awaiting one (settled, or submit not yet recorded) settles no other', () => {
    for (let i = 0; i < counter.length; i++) {
      const others = counter.filter((_, j) => j !== i);
      expect(match(others, counter[i]!, 'auto')).toEqual({ none: true });
    }
  });

  it('an UNDELIV receipt for 1010 fails the SMS that got 1010, never the one that got 4112 (0x1010)', () => {
    expect(match(['1010', '4112'], '1010', 'auto')).toEqual({ owner: 0, via: 'exact' });
    expect(match(['4112'], '1010', 'auto')).toEqual({ none: true });
    expect(match(['4112'], '1010', 'exact')).toEqual({ none: true });
  });

  it('lower-case hex in the receipt, upper case in submit_sm_resp', () => {
    expect(match(['5F878C79', '1'], '5f878c79', 'auto')).toEqual({ owner: 0, via: 'alternate' });
    expect(match(['5F878C79'], '5f878c79', 'exact')).toEqual({ none: true });
  });

  it('two SMS that a hex/decimal reading could both own: applied to neither', () => {
    // 0x5f878c79 = 1602718841: one SMS got the hex id, another (on the same connection) the decimal one
    expect(match(['5F878C79', '00005f878c79'], '1602718841', 'auto')).toEqual({
      ambiguous: [0, 1],
      via: 'alternate',
    });
  });

  it('the configured readings', () => {
    expect(match(['1010', '3F2'], '4112', 'hex_to_decimal')).toEqual({ owner: 0, via: 'alternate' });
    expect(match(['22', '10'], '16', 'decimal_to_hex')).toEqual({ owner: 0, via: 'alternate' });
    expect(match(['22', '10'], '16', 'auto')).toEqual({ none: true });
  });
});

interface FixtureLine {
  expect: { id?: string };
  tlvs?: { receipted_message_id?: string };
  context?: { submit_sm_resp_message_id?: string };
  source: string;
}

describe('the fixtures that give one message id twice match in auto, both ways', () => {
  const fixtures = readFileSync(new URL('../../fixtures/dlr-receipts.jsonl', import.meta.url), 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as FixtureLine);
  const pairs = fixtures.flatMap((f, i) =>
    [f.tlvs?.receipted_message_id, f.context?.submit_sm_resp_message_id]
      .filter((other): other is string => other !== undefined && f.expect.id !== undefined)
      .map((other) => [`line ${i + 1}: ${f.expect.id} ~ ${other}`, f.expect.id!, other] as const),
  );

  it('finds them', () => {
    expect(pairs.length).toBeGreaterThanOrEqual(7);
  });

  it.each(pairs)('%s', (_name, textId, otherId) => {
    expect(match([otherId], textId, 'auto')).toHaveProperty('owner', 0);
    expect(match([textId], otherId, 'auto')).toHaveProperty('owner', 0);
  });
});

describe('properties', () => {
  const value = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });
  const counter = fc.oneof(fc.bigInt({ min: 0n, max: 300n }), value);
  const zeros = fc.integer({ min: 0, max: 3 }).map((n) => '0'.repeat(n));
  const anyCase = (s: string) => fc.boolean().map((upper) => (upper ? s.toUpperCase() : s.toLowerCase()));
  const format = fc.constantFrom(...MESSAGE_ID_FORMATS);
  const id = fc.stringMatching(/^[0-9A-Za-z-]{1,20}$/);

  it('the exact key comes first and matches the stored exact key', () => {
    fc.assert(
      fc.property(id, format, (messageId, f) => {
        expect(lookupKeys(messageId, f)[0]).toEqual({ key: storedKeys(messageId, f)!.exact, kind: 'exact' });
        expect(match([messageId], messageId, f)).toEqual({ owner: 0, via: 'exact' });
      }),
    );
  });

  it('auto never takes two all-digit ids of different values for one another', () => {
    fc.assert(
      // the other id is often a look-alike: b's digits read as hex (0x16 = 22), or b's hex when all digits
      fc.property(
        counter.chain((b) =>
          fc.tuple(
            fc.constant(b),
            fc.oneof(
              counter,
              fc.constant(BigInt(`0x${b}`)),
              fc.constant(BigInt(b.toString(16).replace(/[a-f]/g, '1'))),
            ),
          ),
        ),
        zeros,
        zeros,
        ([b, a], za, zb) => {
          fc.pre(a !== b);
          expect(match([`${za}${a}`], `${zb}${b}`, 'auto')).toEqual({ none: true });
        },
      ),
    );
  });

  it('hex_to_decimal finds hex (any case, leading zeros) from its decimal', () => {
    fc.assert(
      fc.property(value, zeros, (n, z) => {
        fc.assert(
          fc.property(anyCase(n.toString(16)), (hex) => {
            expect(match([`${z}${hex}`], n.toString(10), 'hex_to_decimal')).toHaveProperty('owner', 0);
          }),
          { numRuns: 2 },
        );
      }),
    );
  });

  it('decimal_to_hex finds decimal (leading zeros) from its hex in any case', () => {
    fc.assert(
      fc.property(value, zeros, zeros, fc.boolean(), (n, z1, z2, upper) => {
        const hex = n.toString(16);
        const receipt = `${z2}${upper ? hex.toUpperCase() : hex}`;
        expect(match([`${z1}${n}`], receipt, 'decimal_to_hex')).toHaveProperty('owner', 0);
      }),
    );
  });

  it('auto finds hex <-> decimal both ways when the hex has a letter', () => {
    fc.assert(
      fc.property(value, fc.boolean(), (n, upper) => {
        const hex = upper ? n.toString(16).toUpperCase() : n.toString(16);
        fc.pre(/[a-f]/i.test(hex));
        expect(match([hex], n.toString(10), 'auto')).toHaveProperty('owner', 0);
        expect(match([n.toString(10)], hex, 'auto')).toHaveProperty('owner', 0);
      }),
    );
  });

  it('canonicalId is idempotent', () => {
    fc.assert(
      fc.property(id, (s) => {
        expect(canonicalId(canonicalId(s))).toBe(canonicalId(s));
      }),
    );
  });
});
