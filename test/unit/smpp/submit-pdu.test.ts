import smpp from 'smpp';
import { describe, expect, it } from 'vitest';
import type { SubmitParams } from '../../../src/smpp/session-types.js';
import { fastSubmitSm, submitSmPdu } from '../../../src/smpp/submit-pdu.js';

type Options = smpp.PduOptions<'submit_sm'>;

const base: Options = {
  source_addr_ton: 5,
  source_addr_npi: 0,
  source_addr: 'BRIDGE',
  dest_addr_ton: 1,
  dest_addr_npi: 1,
  destination_addr: '447700900001',
  esm_class: 0,
  priority_flag: 0,
  registered_delivery: 1,
  data_coding: 0,
  short_message: Buffer.from('A1'),
  validity_period: '000001000000000R',
};

// a key present with an undefined value crashes the library's encoder: absent, as submitSmOptions leaves it
const { validity_period: _unused, ...withoutValidity } = base;

/** The library's own encoding of the same options and sequence number. */
const library = (o: Options, sequence: number) =>
  new smpp.PDU('submit_sm', { ...o, sequence_number: sequence }).toBuffer();

const fast = (o: Options, sequence: number) => {
  const pdu = fastSubmitSm(o);
  if (!pdu) throw new Error('not encoded here');
  pdu.sequence_number = sequence;
  return pdu.toBuffer();
};

describe('fastSubmitSm: the same bytes as the smpp package', () => {
  const cases: Array<[string, Options]> = [
    ['the sender’s usual submit', base],
    ['no validity period', withoutValidity],
    [
      'a relative time of 12 characters or fewer (the library pads it)',
      { ...base, validity_period: '1000000' },
    ],
    ['a relative time of exactly 12 characters', { ...base, validity_period: '000001000000' }],
    [
      'a scheduled delivery time and a service type',
      { ...base, schedule_delivery_time: '261207120000000+', service_type: 'CMT' },
    ],
    [
      'UCS2 with a UDH, critical priority',
      {
        ...base,
        data_coding: 8,
        esm_class: 0x40,
        priority_flag: 3,
        short_message: Buffer.from([5, 0, 3, 7, 2, 1, 0, 0x41, 0xd8, 0x3d]),
      },
    ],
    ['254 octets', { ...base, short_message: Buffer.alloc(254, 0x61) }],
    [
      'an empty message with message_payload',
      { ...base, short_message: Buffer.alloc(0), message_payload: Buffer.alloc(600, 0x62) },
    ],
    ['data_coding null (the library’s default)', { ...base, data_coding: null }],
    [
      'characters beyond ASCII and Latin-1 in the addresses (their low byte, as the library writes them)',
      { ...base, source_addr: 'Bé€\u0100', destination_addr: '4477\uffff00' },
    ],
    ['a fractional octet field (truncated, as writeUInt8 does)', { ...base, esm_class: 64.7 }],
    ['the fewest fields', { destination_addr: '33612345678', short_message: Buffer.from('x') }],
    [
      'protocol_id, replace_if_present_flag, sm_default_msg_id set',
      { ...base, protocol_id: 0x7f, replace_if_present_flag: 1, sm_default_msg_id: 9 },
    ],
  ];
  it.each(cases)('%s', (_name, options) => {
    for (const sequence of [1, 0x7fffffff])
      expect(fast(options, sequence).toString('hex')).toBe(library(options, sequence).toString('hex'));
  });

  it('throws where the library throws: more than 255 octets of short_message, an octet field out of range', () => {
    for (const options of [
      { ...base, short_message: Buffer.alloc(256) },
      { ...base, esm_class: 256 },
    ]) {
      expect(() => library(options, 1)).toThrow(RangeError);
      expect(() => fast(options, 1)).toThrow(RangeError);
    }
  });

  it('leaves to the library what it does not encode: a Date, a string message, another TLV', () => {
    expect(fastSubmitSm({ ...base, validity_period: new Date() })).toBeUndefined();
    expect(fastSubmitSm({ ...base, short_message: 'text' })).toBeUndefined();
    expect(fastSubmitSm({ ...base, user_message_reference: 7 } as Options)).toBeUndefined();
  });

  it('round-trips through the library’s decoder', () => {
    const decoded = new smpp.PDU(fast(base, 42)) as smpp.Pdu<'submit_sm'>;
    expect(decoded).toMatchObject({
      command: 'submit_sm',
      sequence_number: 42,
      source_addr: 'BRIDGE',
      destination_addr: '447700900001',
      registered_delivery: 1,
    });
  });
});

/** What the library is given for the sender's submit (SMPP 3.4 §4.4.1), as the bridge gave it before `submitSmPdu`. */
function libraryOptions(p: SubmitParams): Options {
  const options: Options = {
    source_addr_ton: p.sourceAddrTon,
    source_addr_npi: p.sourceAddrNpi,
    source_addr: p.sourceAddr,
    dest_addr_ton: p.destAddrTon,
    dest_addr_npi: p.destAddrNpi,
    destination_addr: p.destinationAddr,
    esm_class: p.esmClass,
    priority_flag: p.priorityFlag,
    registered_delivery: p.registeredDelivery,
    data_coding: p.dataCoding,
    short_message: p.shortMessage ?? Buffer.alloc(0),
  };
  if (p.validityPeriod) options.validity_period = p.validityPeriod;
  if (p.messagePayload) options.message_payload = p.messagePayload;
  return options;
}

describe('submitSmPdu: the sender’s submit, the same bytes as the smpp package given its options', () => {
  const params: SubmitParams = {
    destinationAddr: '447700900001',
    destAddrTon: 1,
    destAddrNpi: 1,
    sourceAddr: 'BRIDGE',
    sourceAddrTon: 5,
    sourceAddrNpi: 0,
    dataCoding: 0,
    esmClass: 0,
    shortMessage: Buffer.from('A1'),
    registeredDelivery: 1,
    priorityFlag: 0,
    validityPeriod: '000001000000000R',
  };
  const { validityPeriod: _v, ...noValidity } = params;
  const { shortMessage: _s, ...noMessage } = params;
  it.each<[string, SubmitParams]>([
    ['the usual one-part submit', params],
    ['no validity period', noValidity],
    ['an empty validity period (left out, as before)', { ...params, validityPeriod: '' }],
    [
      'a relative time of 12 characters or fewer (the library pads it)',
      { ...params, validityPeriod: '1000000' },
    ],
    ['no short_message (an empty one)', noMessage],
    [
      'UCS2 with a UDH, critical priority',
      {
        ...params,
        dataCoding: 8,
        esmClass: 0x40,
        priorityFlag: 3,
        shortMessage: Buffer.from([5, 0, 3, 7, 2, 1, 0, 0x41]),
      },
    ],
    [
      'message_payload, short_message empty',
      { ...params, shortMessage: Buffer.alloc(0), messagePayload: Buffer.alloc(600, 0x62) },
    ],
    ['an empty message_payload (still sent, as before)', { ...params, messagePayload: Buffer.alloc(0) }],
    ['254 octets', { ...params, shortMessage: Buffer.alloc(254, 0x61) }],
  ])('%s', (_name, p) => {
    for (const sequence of [1, 0x7fffffff]) {
      const pdu = submitSmPdu(p);
      pdu.sequence_number = sequence;
      expect(pdu.toBuffer().toString('hex')).toBe(library(libraryOptions(p), sequence).toString('hex'));
    }
  });
});
