import fc from 'fast-check';
import smpp from 'smpp';
import { describe, expect, it } from 'vitest';
import { decodeSubmitSmResp } from '../../../src/smpp/reading-session.js';

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
const fast = (whole: Buffer) => decodeSubmitSmResp(whole.readUInt32BE(0), whole.subarray(4));

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

  it('a body cut short (the stream ended) is left to the library', () => {
    const whole = pdu(0x80000004, 0, 5, Buffer.from('abc\0'));
    expect(decodeSubmitSmResp(whole.length, whole.subarray(4, whole.length - 1))).toBeUndefined();
  });
});
