import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseUdh } from '../../../src/smpp/reassemble.js';

describe('parseUdh', () => {
  it.each([
    [
      '8-bit reference',
      [0x05, 0x00, 0x03, 0x2a, 3, 2, 0x41],
      { ref: 0x2a, total: 3, seq: 2, iei: 0x00 },
      6,
      [0x41],
    ],
    [
      '16-bit reference',
      [0x06, 0x08, 0x04, 0x12, 0x34, 2, 1, 0x41],
      { ref: 0x1234, total: 2, seq: 1, iei: 0x08 },
      7,
      [0x41],
    ],
    [
      'concat after a port-addressing IE',
      [0x0b, 0x05, 0x04, 0x0b, 0x84, 0x23, 0xf0, 0x00, 0x03, 0x07, 2, 2, 0x41],
      { ref: 7, total: 2, seq: 2, iei: 0x00 },
      12,
      [0x41],
    ],
    ['no concat IE', [0x04, 0x05, 0x02, 0x0b, 0x84, 0x41], undefined, 5, [0x41]],
    ['seq 0 is ignored', [0x05, 0x00, 0x03, 0x01, 2, 0, 0x41], undefined, 6, [0x41]],
    ['seq above total is ignored', [0x05, 0x00, 0x03, 0x01, 2, 3, 0x41], undefined, 6, [0x41]],
    ['total 0 is ignored', [0x05, 0x00, 0x03, 0x01, 0, 0, 0x41], undefined, 6, [0x41]],
    ['IE longer than the header stops parsing', [0x03, 0x00, 0x03, 0x01, 0x41], undefined, 4, [0x41]],
  ])('%s', (_name, bytes, concat, headerLength, body) => {
    const parsed = parseUdh(Buffer.from(bytes));
    expect(parsed.concat).toEqual(concat);
    expect(parsed.headerLength).toBe(headerLength);
    expect([...parsed.body]).toEqual(body);
  });

  it.each([
    ['empty', []],
    ['length beyond the buffer', [0x20, 0x00, 0x03, 1, 2, 1]],
    ['zero length', [0x00, 0x41, 0x42]],
  ])('impossible header (%s): no concat, body is the whole buffer', (_name, bytes) => {
    const parsed = parseUdh(Buffer.from(bytes));
    expect(parsed.concat).toBeUndefined();
    expect(parsed.headerLength).toBe(0);
    expect([...parsed.body]).toEqual(bytes);
  });

  it('never throws on garbage and keeps header + body = input', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        const parsed = parseUdh(Buffer.from(bytes));
        expect(parsed.headerLength + parsed.body.length).toBe(bytes.length);
        if (parsed.concat) {
          expect(parsed.concat.seq).toBeGreaterThanOrEqual(1);
          expect(parsed.concat.seq).toBeLessThanOrEqual(parsed.concat.total);
        }
      }),
    );
  });
});
