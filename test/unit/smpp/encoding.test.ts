import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isBridgeError } from '../../../src/errors.js';
import {
  DataCoding,
  decodeGsm,
  decodeText,
  decodeUcs2,
  encodeGsm,
  encodeText,
  encodeUcs2,
  fitsGsm,
  gsmSeptets,
} from '../../../src/smpp/encoding.js';

// 3GPP TS 23.038 §6.2.1, written out independently of the implementation's table.
const BASIC_TABLE: ReadonlyArray<readonly [number, string]> = [
  ...[...'@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ'].map((ch, i) => [i, ch] as const),
  [0x1c, 'Æ'],
  [0x1d, 'æ'],
  [0x1e, 'ß'],
  [0x1f, 'É'],
  ...[...' !"#¤%&\'()*+,-./0123456789:;<=>?'].map((ch, i) => [0x20 + i, ch] as const),
  ...[...'¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§'].map((ch, i) => [0x40 + i, ch] as const),
  ...[...'¿abcdefghijklmnopqrstuvwxyzäöñüà'].map((ch, i) => [0x60 + i, ch] as const),
];

const EXTENSION_TABLE: ReadonlyArray<readonly [number, string]> = [
  [0x0a, '\f'],
  [0x14, '^'],
  [0x28, '{'],
  [0x29, '}'],
  [0x2f, '\\'],
  [0x3c, '['],
  [0x3d, '~'],
  [0x3e, ']'],
  [0x40, '|'],
  [0x65, '€'],
];

describe('GSM 03.38', () => {
  it('has 127 basic characters (0x1B is the escape)', () => {
    expect(BASIC_TABLE).toHaveLength(127);
  });

  it.each(BASIC_TABLE)('basic 0x%s round-trips %j', (code, ch) => {
    expect(fitsGsm(ch)).toBe(true);
    expect(gsmSeptets(ch)).toBe(1);
    expect([...encodeGsm(ch)]).toEqual([code]);
    expect(decodeGsm(Buffer.from([code]))).toBe(ch);
  });

  it.each(EXTENSION_TABLE)('extension 0x%s %j is 0x1B + code and counts 2 septets', (code, ch) => {
    expect(fitsGsm(ch)).toBe(true);
    expect(gsmSeptets(ch)).toBe(2);
    expect([...encodeGsm(ch)]).toEqual([0x1b, code]);
    expect(decodeGsm(Buffer.from([0x1b, code]))).toBe(ch);
    expect(encodeText(`a${ch}b`).units).toBe(4);
  });

  it.each([
    ['unknown escape shows the base character', [0x1b, 0x41], 'A'],
    ['escape-escape shows a space', [0x1b, 0x1b, 0x41], ' A'],
    ['trailing escape is dropped', [0x41, 0x1b], 'A'],
    ['octets above 0x7F become ?', [0x41, 0xe9], 'A?'],
    ['NUL is @ (septet 0)', [0x00], '@'],
    ['the euro escape from a real receipt', [0x48, 0x1b, 0x65, 0x6c], 'H€l'],
  ])('decodeGsm: %s', (_name, bytes, text) => {
    expect(decodeGsm(Buffer.from(bytes))).toBe(text);
  });

  it.each(['ş', 'ç', 'é€😀', '\u001b', '\t', 'Ā', '`'])('%j is not GSM', (text) => {
    expect(fitsGsm(text)).toBe(false);
    let thrown: unknown;
    try {
      encodeGsm(text);
    } catch (err) {
      thrown = err;
    }
    expect(isBridgeError(thrown)).toBe(true);
  });

  it('round-trips any string of the alphabet', () => {
    const alphabet = [...BASIC_TABLE, ...EXTENSION_TABLE].map(([, ch]) => ch);
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...alphabet), { maxLength: 400 }), (chars) => {
        const text = chars.join('');
        expect(fitsGsm(text)).toBe(true);
        expect(decodeGsm(encodeGsm(text))).toBe(text);
      }),
    );
  });
});

describe('UCS2', () => {
  it.each([
    ['emoji surrogate pair', '😀 ok', [0xd8, 0x3d, 0xde, 0x00, 0x00, 0x20, 0x00, 0x6f, 0x00, 0x6b]],
    ['Turkish', 'ş', [0x01, 0x5f]],
  ])('%s is UTF-16BE', (_name, text, bytes) => {
    expect([...encodeUcs2(text)]).toEqual(bytes);
    expect(decodeUcs2(Buffer.from(bytes))).toBe(text);
  });

  it('ignores an odd trailing octet', () => {
    expect(decodeUcs2(Buffer.from([0x00, 0x41, 0x00]))).toBe('A');
  });

  it('round-trips any full-Unicode string', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 200 }), (text) => {
        expect(decodeUcs2(encodeUcs2(text))).toBe(text);
      }),
    );
  });
});

describe('encodeText', () => {
  it.each([
    ['plain GSM', 'PUMP-7 STOP', DataCoding.GSM, 11],
    ['GSM with extension chars', 'a{b}€', DataCoding.GSM, 8],
    ['one non-GSM char makes it UCS2', 'Pompa ş', DataCoding.UCS2, 7],
    ['emoji counts two units', 'hi 😀', DataCoding.UCS2, 5],
    ['empty', '', DataCoding.GSM, 0],
  ])('%s', (_name, text, dataCoding, units) => {
    const encoded = encodeText(text);
    expect(encoded.dataCoding).toBe(dataCoding);
    expect(encoded.units).toBe(units);
    expect(decodeText(encoded.bytes, encoded.dataCoding)).toBe(text);
  });
});

describe('decodeText by data_coding', () => {
  const abc = Buffer.from('A_@', 'latin1');
  it.each([
    ['0 SMSC default = GSM', abc, 0x00, 'A§¡'],
    ['1 IA5', abc, 0x01, 'A_@'],
    ['1 IA5 clears the high bit', Buffer.from([0xc1]), 0x01, 'A'],
    ['3 Latin-1', Buffer.from([0x41, 0xe9]), 0x03, 'Aé'],
    ['2 binary', Buffer.from([0x00, 0xff]), 0x02, '\u0000ÿ'],
    ['4 binary', Buffer.from([0x00, 0xff]), 0x04, '\u0000ÿ'],
    ['6 Cyrillic', Buffer.from([0xbf]), 0x06, 'П'],
    ['8 UCS2', Buffer.from([0x04, 0x1f]), 0x08, 'П'],
    ['0x11 general group, class 1, GSM', abc, 0x11, 'A§¡'],
    ['0x15 general group, 8-bit', abc, 0x15, 'A_@'],
    ['0x18 general group, UCS2', Buffer.from([0x00, 0x41]), 0x18, 'A'],
    ['0xF0 class 0 GSM', abc, 0xf0, 'A§¡'],
    ['0xF2 class 2 GSM (a real receipt)', abc, 0xf2, 'A§¡'],
    ['0xF6 class 2 8-bit', abc, 0xf6, 'A_@'],
    ['0xC8 MWI GSM', abc, 0xc8, 'A§¡'],
    ['0xE0 MWI UCS2', Buffer.from([0x00, 0x41]), 0xe0, 'A'],
    ['0x90 reserved falls back to octets', abc, 0x90, 'A_@'],
  ])('%s', (_name, buf, dataCoding, text) => {
    expect(decodeText(buf, dataCoding)).toBe(text);
  });

  it('never throws', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.integer({ min: -1, max: 300 }), (bytes, dcs) => {
        expect(typeof decodeText(Buffer.from(bytes), dcs)).toBe('string');
      }),
    );
  });
});
