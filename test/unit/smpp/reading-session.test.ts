import type { Socket } from 'node:net';
import { PassThrough } from 'node:stream';
import fc from 'fast-check';
import smpp from 'smpp';
import { describe, expect, it } from 'vitest';
import { decodeSubmitSmResp, ReadingSession } from '../../../src/smpp/reading-session.js';

/** A whole PDU: command_length, command_id, command_status, sequence_number, then the body. */
function pdu(commandId: number, status: number, sequence: number, body: Uint8Array): Buffer {
  const b = Buffer.alloc(16 + body.length);
  b.writeUInt32BE(b.length, 0);
  b.writeUInt32BE(commandId >>> 0, 4);
  b.writeUInt32BE(status >>> 0, 8);
  b.writeUInt32BE(sequence >>> 0, 12);
  b.set(body, 16);
  return b;
}

/** The fields a reader of a PDU sees, as the library's decoder leaves them. */
function fields(p: smpp.AnyPdu) {
  const r = p as unknown as Record<string, unknown>;
  return {
    command: r.command,
    command_id: r.command_id,
    command_length: r.command_length,
    command_status: r.command_status,
    sequence_number: r.sequence_number,
    message_id: r.message_id,
    isResponse: p.isResponse(),
  };
}

/** What the reading loop would make of it: the body as `socket.read(command_length - 4)` returns it. */
const fast = (whole: Buffer) => decodeSubmitSmResp(whole, 0, whole.readUInt32BE(0));

describe('decodeSubmitSmResp: the smpp package’s reading of a submit_sm_resp', () => {
  it.each<[string, Buffer]>([
    ['an accepted submit', pdu(0x80000004, 0, 7, Buffer.from('5f3a9c01\0'))],
    ['a refusal without a body', pdu(0x80000004, 0x58, 9, Buffer.alloc(0))],
    ['a message id without its NUL', pdu(0x80000004, 0, 1, Buffer.from('abc'))],
    ['an empty message id', pdu(0x80000004, 0, 2, Buffer.from([0]))],
    [
      'octets above 0x7f (the library reads them as ascii)',
      pdu(0x80000004, 0, 3, Buffer.from([0xc3, 0xa9, 0x41, 0])),
    ],
    ['octets after the NUL that are no TLV', pdu(0x80000004, 0, 4, Buffer.from([0x41, 0, 1, 2, 3]))],
    ['the largest sequence number', pdu(0x80000004, 0, 0x7fffffff, Buffer.from('x\0'))],
  ])('%s', (_name, whole) => {
    const decoded = fast(whole);
    expect(decoded).toBeDefined();
    expect(fields(decoded!)).toEqual(fields(new smpp.PDU(whole)));
  });

  it('any status, sequence and message id octets', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.uint8Array({ maxLength: 70 }),
        fc.boolean(),
        (status, sequence, id, nul) => {
          const body = nul ? Buffer.concat([Buffer.from(id), Buffer.from([0])]) : Buffer.from(id);
          const whole = pdu(0x80000004, status, sequence, body);
          const decoded = fast(whole);
          if (decoded === undefined) {
            // only a body the library reads TLVs from is left to it
            const end = body.indexOf(0) < 0 ? body.length : body.indexOf(0);
            expect(end + 1 + 4).toBeLessThanOrEqual(body.length);
            return;
          }
          expect(fields(decoded)).toEqual(fields(new smpp.PDU(whole)));
        },
      ),
    );
  });

  it.each<[string, Buffer]>([
    [
      'a submit_sm_resp with a TLV (SMPP 5.0)',
      pdu(0x80000004, 0, 5, Buffer.from([0x41, 0, 0x04, 0x25, 0, 1, 1])),
    ],
    ['a deliver_sm_resp', pdu(0x80000005, 0, 5, Buffer.from([0]))],
    ['an enquire_link_resp', pdu(0x80000015, 0, 5, Buffer.alloc(0))],
    ['a generic_nack', pdu(0x80000000, 3, 5, Buffer.alloc(0))],
  ])('%s is left to the library', (_name, whole) => {
    expect(fast(whole)).toBeUndefined();
  });

  it('reads at an offset, and leaves a PDU cut short to the library', () => {
    const whole = pdu(0x80000004, 0, 5, Buffer.from('abc\0'));
    const padded = Buffer.concat([Buffer.from([9, 9, 9]), whole, Buffer.from([7])]);
    expect(fields(decodeSubmitSmResp(padded, 3, whole.length)!)).toEqual(fields(new smpp.PDU(whole)));
    expect(decodeSubmitSmResp(whole.subarray(0, whole.length - 1), 0, whole.length)).toBeUndefined();
  });
});

/** What a listener of the session sees: every PDU's own fields, 'pdu' then the command's own event. */
type Seen = Array<[string, Record<string, unknown>]>;

/** Feeds the same chunks to a session over a PassThrough, one 'readable' turn per chunk; what it emitted. */
async function feed(
  make: (socket: PassThrough) => smpp.Session,
  chunks: Buffer[],
): Promise<{ seen: Seen; errors: string[] }> {
  const socket = new PassThrough();
  const session = make(socket);
  const seen: Seen = [];
  const errors: string[] = [];
  session.on('pdu', (p) => seen.push(['pdu', { ...p }]));
  for (const command of [
    'submit_sm_resp',
    'deliver_sm',
    'enquire_link',
    'generic_nack',
    'bind_transceiver_resp',
  ] as const)
    session.on(command, (p: smpp.AnyPdu) => seen.push([command, { ...p }]));
  session.on('error', (err) => errors.push(err.message));
  for (const chunk of chunks) {
    socket.write(chunk);
    await new Promise((resolve) => setImmediate(resolve));
  }
  return { seen, errors };
}

const library = (socket: PassThrough) => new smpp.Session({ socket: socket as unknown as Socket });
const ours = (socket: PassThrough) => new ReadingSession({ socket: socket as unknown as Socket });

/** Cuts `bytes` at the given points (sorted, deduplicated, inside it). */
function cut(bytes: Buffer, points: number[]): Buffer[] {
  const at = [...new Set(points.filter((p) => p > 0 && p < bytes.length))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let from = 0;
  for (const p of [...at, bytes.length]) {
    chunks.push(bytes.subarray(from, p));
    from = p;
  }
  return chunks;
}

describe('ReadingSession: what the library’s session emits, for any cutting of the stream into reads', () => {
  const withSequence = (p: smpp.AnyPdu, sequence: number) => {
    p.sequence_number = sequence;
    return p.toBuffer();
  };
  const stream = Buffer.concat([
    withSequence(new smpp.PDU('bind_transceiver_resp', { system_id: 'SMSC' }), 1),
    pdu(0x80000004, 0, 2, Buffer.from('5f3a9c01\0')),
    pdu(0x80000004, 0x58, 3, Buffer.alloc(0)),
    pdu(0x80000004, 0, 4, Buffer.from([0x41, 0, 0x04, 0x25, 0, 1, 1])),
    withSequence(new smpp.PDU('enquire_link', {}), 5),
    withSequence(
      new smpp.PDU('deliver_sm', {
        source_addr: '447700900001',
        destination_addr: 'BRIDGE',
        short_message: Buffer.from('dev-1 reboot'),
      }),
      6,
    ),
    pdu(0x80000000, 3, 7, Buffer.alloc(0)),
    pdu(0x80000004, 0, 8, Buffer.from('id-8\0')),
  ]);

  it('in one read, and one octet at a time', async () => {
    for (const chunks of [[stream], cut(stream, [...stream.keys()])]) {
      const expected = await feed(library, chunks);
      expect(expected.seen).toHaveLength(16);
      expect(await feed(ours, chunks)).toEqual(expected);
    }
  });

  it('cut anywhere', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 1, max: stream.length - 1 }), { maxLength: 12 }),
        async (points) => {
          const chunks = cut(stream, points);
          expect(await feed(ours, chunks)).toEqual(await feed(library, chunks));
        },
      ),
      { numRuns: 60 },
    );
  });

  it('a command_length over the maximum is the library’s error, and nothing after it is read', async () => {
    const tooLong = Buffer.alloc(8);
    tooLong.writeUInt32BE(smpp.PDU.maxLength + 1, 0);
    const chunks = [
      pdu(0x80000004, 0, 2, Buffer.from('a\0')),
      tooLong,
      pdu(0x80000004, 0, 3, Buffer.from('b\0')),
    ];
    const expected = await feed(library, chunks);
    expect(expected.errors).toEqual([
      `PDU length was too large (${smpp.PDU.maxLength + 1}, maximum is ${smpp.PDU.maxLength}).`,
    ]);
    expect(await feed(ours, chunks)).toEqual(expected);
  });

  it.each([0, 3, 8, 15])(
    'a command_length of %i (shorter than the header) is an error, and nothing after it is read',
    async (length) => {
      const short = Buffer.alloc(16);
      short.writeUInt32BE(length, 0);
      const chunks = [
        pdu(0x80000004, 0, 2, Buffer.from('a\0')),
        short,
        pdu(0x80000004, 0, 3, Buffer.from('b\0')),
      ];
      const { seen, errors } = await feed(ours, chunks);
      expect(errors).toEqual([`PDU length was too small (${length}, the header alone is 16).`]);
      expect(seen.map(([, p]) => p.sequence_number)).toEqual([2, 2]);
    },
  );

  it('paused between PDUs, it goes on with what it read once resumed', async () => {
    const socket = new PassThrough();
    const session = ours(socket);
    const sequences: number[] = [];
    session.on('pdu', (p) => {
      sequences.push(p.sequence_number);
      if (p.sequence_number === 2) session.pause();
    });
    socket.write(stream);
    await new Promise((resolve) => setImmediate(resolve));
    expect(sequences).toEqual([1, 2]);
    session.resume();
    expect(sequences).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });
});
