import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isBridgeError } from '../../../src/errors.js';
import { decodeText } from '../../../src/smpp/encoding.js';
import { parseUdh } from '../../../src/smpp/reassemble.js';
import { messagePayload, type SmsPart, splitSms } from '../../../src/smpp/segment.js';

const GSM_ALPHABET = [
  ...'@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?',
  ...'¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà',
  ...'\f^{}\\[~]|€',
];

/** The text a part carries, decoded on its own (parts never split an escape or a surrogate pair). */
function bodyText(part: SmsPart): string {
  const body = part.udhi ? parseUdh(part.shortMessage).body : part.shortMessage;
  return decodeText(body, part.dataCoding);
}

function payloadLength(part: SmsPart): number {
  return part.shortMessage.length - (part.udhi ? parseUdh(part.shortMessage).headerLength : 0);
}

/** Octets on the air: GSM septets are packed after the UDH, starting on a septet boundary (23.040 §9.2.3.24). */
function airOctets(part: SmsPart): number {
  const udhLength = part.udhi ? parseUdh(part.shortMessage).headerLength : 0;
  if (part.dataCoding === 8) return part.shortMessage.length;
  const fillBits = (7 - ((udhLength * 8) % 7)) % 7;
  return udhLength + Math.ceil((payloadLength(part) * 7 + fillBits) / 8);
}

const big = { maxParts: 255, reference: 0x42 };

describe('splitSms boundaries', () => {
  it.each([
    ['160 GSM septets: one part', 'a'.repeat(160), 0, [160]],
    ['161 GSM septets: two parts', 'a'.repeat(161), 0, [153, 8]],
    ['153*2 GSM septets: two parts', 'a'.repeat(306), 0, [153, 153]],
    ['153*2+1 GSM septets: three parts', 'a'.repeat(307), 0, [153, 153, 1]],
    ['80 extension chars = 160 septets: one part', '€'.repeat(80), 0, [160]],
    ['70 UCS2 units: one part', 'ş'.repeat(70), 8, [140]],
    ['71 UCS2 units: two parts', 'ş'.repeat(71), 8, [134, 8]],
    ['67*2 UCS2 units: two parts', 'ş'.repeat(134), 8, [134, 134]],
    ['67*2+1 UCS2 units: three parts', 'ş'.repeat(135), 8, [134, 134, 2]],
    ['empty text: one empty part', '', 0, [0]],
    // one part is sized from its octets: an escape is two septets, a surrogate pair two units
    ['159 septets + one escape = 161: two parts', `${'a'.repeat(159)}€`, 0, [153, 8]],
    ['81 extension chars = 162 septets: two parts', '€'.repeat(81), 0, [152, 10]],
    ['35 surrogate pairs = 70 units: one part', '😀'.repeat(35), 8, [140]],
    ['69 units + a surrogate pair = 71: two parts', `${'ş'.repeat(69)}😀`, 8, [134, 8]],
  ])('%s', (_name, text, dataCoding, payloads) => {
    const result = splitSms(text, big);
    expect(result.dataCoding).toBe(dataCoding);
    expect(result.truncated).toBe(false);
    expect(result.parts.map(payloadLength)).toEqual(payloads);
    expect(result.parts.every((p) => p.udhi === payloads.length > 1)).toBe(true);
    expect(result.parts.map(bodyText).join('')).toBe(text);
  });

  it('moves an escape sequence that would straddle septet 153 to the next part', () => {
    const text = `${'a'.repeat(152)}€${'b'.repeat(20)}`;
    const { parts } = splitSms(text, big);
    expect(parts.map(payloadLength)).toEqual([152, 22]);
    expect(parseUdh(parts[1]!.shortMessage).body.subarray(0, 2)).toEqual(Buffer.from([0x1b, 0x65]));
  });

  it('moves a surrogate pair that would straddle unit 67 to the next part', () => {
    const text = `${'ş'.repeat(66)}😀${'ş'.repeat(10)}`;
    const { parts } = splitSms(text, big);
    expect(parts.map(payloadLength)).toEqual([132, 24]);
    expect(bodyText(parts[1]!).startsWith('😀')).toBe(true);
  });

  it.each([
    ['GSM', 'a'.repeat(305), [152, 152, 1]],
    ['UCS2', 'ş'.repeat(133), [132, 132, 2]],
  ])('IEI 0x08 (16-bit reference) leaves one unit less per part: %s', (_name, text, payloads) => {
    const { parts } = splitSms(text, { ...big, iei: 0x08, reference: 0x1234 });
    expect(parts.map(payloadLength)).toEqual(payloads);
    expect([...parts[0]!.shortMessage.subarray(0, 7)]).toEqual([0x06, 0x08, 0x04, 0x12, 0x34, 3, 1]);
  });

  it('writes the 8-bit reference UDH 05 00 03 ref total seq', () => {
    const { parts } = splitSms('a'.repeat(161), { maxParts: 4, reference: 0x1ff });
    expect([...parts[1]!.shortMessage.subarray(0, 6)]).toEqual([0x05, 0x00, 0x03, 0xff, 2, 2]);
  });
});

describe('splitSms overflow', () => {
  it.each([
    ['GSM to 2 parts', 'a'.repeat(400), 2, 0, [153, 153], '...'],
    ['UCS2 to 2 parts', 'ş'.repeat(200), 2, 8, [134, 134], '…'],
    ['GSM to 1 part (no UDH, 160 septets)', 'a'.repeat(200), 1, 0, [160], '...'],
    ['UCS2 to 1 part (70 units)', 'ş'.repeat(100), 1, 8, [140], '…'],
    ['GSM whose cut lands on escapes', `${'a'.repeat(302)}${'€'.repeat(10)}`, 2, 0, [153, 152], '...'],
    ['default maxParts is 4', 'a'.repeat(1000), undefined, 0, [153, 153, 153, 153], '...'],
  ])('truncates %s with an ellipsis', (_name, text, maxParts, dataCoding, payloads, ellipsis) => {
    const result = splitSms(text, { maxParts, reference: 1 });
    expect(result.truncated).toBe(true);
    expect(result.dataCoding).toBe(dataCoding);
    expect(result.parts.map(payloadLength)).toEqual(payloads);
    const sent = result.parts.map(bodyText).join('');
    expect(sent.endsWith(ellipsis)).toBe(true);
    expect(text.startsWith(sent.slice(0, -ellipsis.length))).toBe(true);
    expect(result.parts.every((p) => p.totalParts === payloads.length)).toBe(true);
  });

  it('rejects with ERR_SMS_TOO_LONG when asked to', () => {
    let thrown: unknown;
    try {
      splitSms('a'.repeat(307), { maxParts: 2, reference: 1, onOverflow: 'reject' });
    } catch (err) {
      thrown = err;
    }
    expect(isBridgeError(thrown, 'ERR_SMS_TOO_LONG')).toBe(true);
  });

  it('does not reject what fits', () => {
    expect(splitSms('a'.repeat(306), { maxParts: 2, reference: 1, onOverflow: 'reject' }).parts).toHaveLength(
      2,
    );
  });
});

describe('splitSms properties', () => {
  const texts = fc.oneof(
    fc.string({ unit: 'binary', maxLength: 1500 }),
    fc.string({ unit: 'grapheme', maxLength: 800 }),
    // raw UTF-16 code units, lone surrogates included
    fc
      .array(fc.integer({ min: 0, max: 0xffff }), { maxLength: 800 })
      .map((units) => String.fromCharCode(...units)),
    fc.array(fc.constantFrom(...GSM_ALPHABET), { maxLength: 1500 }).map((chars) => chars.join('')),
    fc
      .tuple(fc.array(fc.constantFrom(...GSM_ALPHABET), { maxLength: 600 }), fc.constantFrom('ş', '😀', '€'))
      .map(([chars, extra]) => chars.join('') + extra),
  );

  it('joins back to the text, fits 140 octets per part, and numbers the parts consistently', () => {
    fc.assert(
      fc.property(
        texts,
        fc.integer({ min: 0, max: 0xffff }),
        fc.constantFrom(0x00, 0x08),
        (text, ref, iei) => {
          const result = splitSms(text, { maxParts: 255, reference: ref, iei: iei as 0x00 | 0x08 });
          expect(result.truncated).toBe(false);
          expect(result.parts.map(bodyText).join('')).toBe(text);
          const total = result.parts.length;
          result.parts.forEach((part, i) => {
            expect(airOctets(part)).toBeLessThanOrEqual(140);
            expect(part.shortMessage.length).toBeLessThanOrEqual(254);
            expect(part.dataCoding).toBe(result.dataCoding);
            expect(part.partNumber).toBe(i + 1);
            expect(part.totalParts).toBe(total);
            if (total === 1) {
              expect(part.udhi).toBe(false);
              return;
            }
            const { concat } = parseUdh(part.shortMessage);
            expect(concat).toEqual({ ref: iei === 0x08 ? ref : ref & 0xff, total, seq: i + 1, iei });
          });
        },
      ),
      { numRuns: 300 },
    );
  });

  it('truncated output always fits maxParts and keeps a prefix of the text', () => {
    fc.assert(
      fc.property(texts, fc.integer({ min: 1, max: 4 }), (text, maxParts) => {
        const result = splitSms(text, { maxParts, reference: 7 });
        expect(result.parts.length).toBeLessThanOrEqual(maxParts);
        result.parts.forEach((part) => {
          expect(airOctets(part)).toBeLessThanOrEqual(140);
        });
        const sent = result.parts.map(bodyText).join('');
        if (!result.truncated) expect(sent).toBe(text);
        else expect(text.startsWith(sent.replace(/(\.\.\.|…)$/, ''))).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});

describe('messagePayload', () => {
  it.each([
    ['GSM', 'a'.repeat(500), 0, 500],
    ['UCS2', 'ş'.repeat(300), 8, 600],
  ])('%s: the whole text, no UDH', (_name, text, dataCoding, length) => {
    const { dataCoding: dc, payload } = messagePayload(text);
    expect(dc).toBe(dataCoding);
    expect(payload.length).toBe(length);
    expect(decodeText(payload, dc)).toBe(text);
  });
});
