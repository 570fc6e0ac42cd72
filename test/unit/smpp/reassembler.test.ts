import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type MoPart, parseUdh, Reassembler } from '../../../src/smpp/reassemble.js';
import { splitSms } from '../../../src/smpp/segment.js';

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

/** MO parts as a phone would send them: our own splitter, read back through parseUdh. */
function moParts(text: string, source: string, reference: number): MoPart[] {
  return splitSms(text, { maxParts: 255, reference }).parts.map((part) => {
    const { concat, body } = parseUdh(part.shortMessage);
    return {
      source,
      ref: concat!.ref,
      total: concat!.total,
      seq: concat!.seq,
      body,
      dataCoding: part.dataCoding,
    };
  });
}

function permutations<T>(items: T[]): T[][] {
  if (items.length <= 1) return [items];
  return items.flatMap((item, i) =>
    permutations([...items.slice(0, i), ...items.slice(i + 1)]).map((rest) => [item, ...rest]),
  );
}

describe('Reassembler', () => {
  const ucs2Text = `PUMP-7 ${'şğü'.repeat(50)} 😀 done`;
  const parts = moParts(ucs2Text, '+447700900001', 9);

  it('has a 3-part UCS2 fixture', () => {
    expect(parts).toHaveLength(3);
    expect(parts[0]!.dataCoding).toBe(8);
  });

  it.each(permutations([0, 1, 2]).map((order) => [order.join(','), order] as const))(
    'reassembles 3 UCS2 parts arriving in order %s',
    (_name, order) => {
      const r = new Reassembler({ timeoutMs: 60_000 });
      const results = order.map((i, n) => r.add(parts[i]!, 1000 + n));
      expect(results.slice(0, 2)).toEqual([undefined, undefined]);
      expect(results[2]?.text).toBe(ucs2Text);
      expect(results[2]?.received).toEqual([1, 2, 3]);
      expect(r.size).toBe(0);
    },
  );

  it('ignores duplicates (an SMSC re-delivery) and does not complete twice', () => {
    const r = new Reassembler({ timeoutMs: 60_000 });
    expect(r.add(parts[0]!, 0)).toBeUndefined();
    expect(r.add(parts[0]!, 1)).toBeUndefined();
    expect(r.add(parts[1]!, 2)).toBeUndefined();
    expect(r.add(parts[2]!, 3)?.text).toBe(ucs2Text);
    expect(r.add(parts[2]!, 4)).toBeUndefined();
    expect(r.size).toBe(1);
  });

  it('keeps senders and references apart', () => {
    const r = new Reassembler({ timeoutMs: 60_000 });
    const other = moParts(ucs2Text.toUpperCase(), '+447700900002', 9);
    const sameSenderOtherRef = moParts('x'.repeat(200), '+447700900001', 10);
    expect(r.add(parts[0]!, 0)).toBeUndefined();
    expect(r.add(other[0]!, 0)).toBeUndefined();
    expect(r.add(sameSenderOtherRef[0]!, 0)).toBeUndefined();
    expect(r.add(other[1]!, 0)).toBeUndefined();
    expect(r.add(other[2]!, 0)?.text).toBe(ucs2Text.toUpperCase());
    expect(r.add(sameSenderOtherRef[1]!, 0)?.text).toBe('x'.repeat(200));
    expect(r.size).toBe(1);
  });

  it('joins bodies before decoding, so a sender that split an escape or a surrogate pair still reads right', () => {
    const r = new Reassembler({ timeoutMs: 60_000 });
    const base = { source: 'a', ref: 300, total: 2 };
    // SAR TLVs (SMPP 3.4 §5.3.2.22-24) give a 16-bit reference; the caller passes it the same way.
    expect(r.add({ ...base, seq: 1, body: Buffer.from([0x41, 0x1b]), dataCoding: 0 }, 0)).toBeUndefined();
    expect(r.add({ ...base, seq: 2, body: Buffer.from([0x65, 0x42]), dataCoding: 0 }, 0)?.text).toBe('A€B');
    expect(
      r.add({ ...base, ref: 301, seq: 1, body: Buffer.from([0xd8, 0x3d]), dataCoding: 8 }, 0),
    ).toBeUndefined();
    expect(
      r.add({ ...base, ref: 301, seq: 2, body: Buffer.from([0xde, 0x00]), dataCoding: 8 }, 0)?.text,
    ).toBe('😀');
  });

  it.each([
    ['seq 0', { seq: 0, total: 2 }],
    ['seq above total', { seq: 3, total: 2 }],
    ['total 0', { seq: 0, total: 0 }],
  ])('ignores a part with %s', (_name, bad) => {
    const r = new Reassembler({ timeoutMs: 1000 });
    expect(r.add({ source: 'a', ref: 1, body: Buffer.alloc(0), dataCoding: 0, ...bad }, 0)).toBeUndefined();
    expect(r.size).toBe(0);
  });

  it('expires incomplete groups after the timeout with what they received', () => {
    const r = new Reassembler({ timeoutMs: 1000 });
    r.add(parts[2]!, 0);
    r.add(parts[0]!, 500);
    expect(r.expire(999)).toEqual([]);
    const [stale, ...rest] = r.expire(1000);
    expect(rest).toEqual([]);
    expect(stale).toMatchObject({
      source: '+447700900001',
      ref: 9,
      total: 3,
      received: [1, 3],
      firstSeenAt: 0,
    });
    expect(r.size).toBe(0);
    expect(r.add(parts[1]!, 1001)).toBeUndefined();
  });

  it('evicts the oldest group past maxGroups and reports it on the next expire', () => {
    const r = new Reassembler({ timeoutMs: 60_000, maxGroups: 2 });
    for (const source of ['a', 'b', 'c']) r.add({ ...parts[0]!, source }, 0);
    expect(r.size).toBe(2);
    expect(r.expire(1).map((g) => g.source)).toEqual(['a']);
  });
});
