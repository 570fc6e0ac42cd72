import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  type DeliveryState,
  isReceipt,
  type ParsedReceipt,
  parseReceiptText,
  readReceipt,
  receiptBytes,
  receiptKind,
  receiptOutcome,
  receiptTextOf,
} from '../../../src/smpp/receipt.js';

interface FixtureLine {
  text: string;
  expect: Partial<Record<FieldKey, string>>;
  tlvs?: { receipted_message_id?: string; message_state?: number; network_error_code?: string };
  pdu?: { data_coding?: number };
  context?: { submit_sm_resp_message_id?: string };
  source: string;
}

const FIELDS = ['id', 'sub', 'dlvrd', 'submit_date', 'done_date', 'stat', 'err'] as const;
type FieldKey = (typeof FIELDS)[number];

const fixtures: FixtureLine[] = readFileSync(
  new URL('../../fixtures/dlr-receipts.jsonl', import.meta.url),
  'utf8',
)
  .split('\n')
  .filter((line) => line.trim() !== '')
  .map((line) => JSON.parse(line) as FixtureLine);

const cases = fixtures.map((f, i) => [`line ${i + 1}: ${f.source}`, f] as const);

describe('parseReceiptText on every real receipt in test/fixtures/dlr-receipts.jsonl', () => {
  it('has all 25 lines', () => {
    expect(fixtures).toHaveLength(25);
  });

  it.each(cases)('%s', (_name, fixture) => {
    const parsed = parseReceiptText(fixture.text);
    const got: Partial<Record<FieldKey, string>> = {};
    for (const key of FIELDS) if (parsed[key] !== undefined) got[key] = parsed[key];
    expect(got).toEqual(fixture.expect);
  });

  it.each(cases)('outcome of %s: the message_state TLV and the stat text agree', (_name, fixture) => {
    const parsed = parseReceiptText(fixture.text);
    const fromText = receiptOutcome({ stat: parsed.stat, err: parsed.err });
    expect(['delivered', 'failed', 'expired', 'pending']).toContain(fromText.state);
    if (fixture.tlvs?.message_state !== undefined) {
      const fromTlv = receiptOutcome({
        stat: parsed.stat,
        err: parsed.err,
        messageState: fixture.tlvs.message_state,
      });
      expect(fromTlv).toEqual(fromText);
    }
  });
});

describe('parseReceiptText', () => {
  it.each<[string, string, ParsedReceipt]>([
    [
      'Appendix B with text',
      'id:1 sub:001 dlvrd:001 submit date:2401011200 done date:2401011201 stat:DELIVRD err:000 text:Hello',
      {
        id: '1',
        sub: '001',
        dlvrd: '001',
        submit_date: '2401011200',
        done_date: '2401011201',
        stat: 'DELIVRD',
        err: '000',
        text: 'Hello',
      },
    ],
    [
      'underscored date keys',
      'id:1 submit_date:2401011200 done_date:2401011201',
      { id: '1', submit_date: '2401011200', done_date: '2401011201' },
    ],
    [
      'upper-case keys',
      'ID:AB Stat:delivrd ERR:0 TEXT:x',
      { id: 'AB', stat: 'delivrd', err: '0', text: 'x' },
    ],
    [
      'a key inside text is text',
      'id:1 stat:UNDELIV text:stat:DELIVRD id:2',
      { id: '1', stat: 'UNDELIV', text: 'stat:DELIVRD id:2' },
    ],
    ['empty values', 'id:1 err: stat:DELIVRD text:', { id: '1', err: '', stat: 'DELIVRD', text: '' }],
    [
      'leading spaces in text kept, trailing NULs dropped',
      'id:1 text:  baff\0\0',
      { id: '1', text: '  baff' },
    ],
    ['a space after the colon', 'id: 77 stat: DELIVRD', { id: '77', stat: 'DELIVRD' }],
    ['a key inside a word is not a key', 'id:1 xstat:FOO', { id: '1' }],
    ['undocumented keys are skipped', 'id:9 mccmnc:24008 stat:DELIVRD', { id: '9', stat: 'DELIVRD' }],
    [
      'a bare state word',
      'id:42 sub:001 dlvrd:001 DELIVRD err:000',
      { id: '42', sub: '001', dlvrd: '001', stat: 'DELIVRD', err: '000' },
    ],
    ['a bare abbreviation in lower case', 'id:42 undeliv', { id: '42', stat: 'undeliv' }],
    ['a spelled-out word only in capitals', 'id:42 Delivered to the handset', { id: '42' }],
    ['a state word inside text is text', 'id:42 text:DELIVRD', { id: '42', text: 'DELIVRD' }],
    ['a stat key wins over a bare word', 'EXPIRED id:42 stat:DELIVRD', { id: '42', stat: 'DELIVRD' }],
    ['vendor text glued to id', 'ACK/id:0A1b stat:DELIVRD', { id: '0A1b', stat: 'DELIVRD' }],
    ['vendor letters glued to id', 'DLRid:0A1b stat:DELIVRD', { id: '0A1b', stat: 'DELIVRD' }],
    ['vendor text glued to id, bare state', '#DLR#Id:77 REJECTD', { id: '77', stat: 'REJECTD' }],
    [
      'vendor suffix',
      'id:5 stat:DELIVRD err:000 mcc:234 mnc:15 net:UK',
      { id: '5', stat: 'DELIVRD', err: '000' },
    ],
    [
      'keys in another order and case',
      'STAT:EXPIRED Err:001 ID:000123',
      { stat: 'EXPIRED', err: '001', id: '000123' },
    ],
    ['garbage', 'hello world', {}],
    ['empty', '', {}],
    ['only NULs', '\0\0\0', {}],
  ])('%s', (_name, text, expected) => {
    expect(parseReceiptText(text)).toEqual(expected);
  });
});

describe('esm_class (SMPP 3.4 §5.2.12)', () => {
  it.each([
    [0x00, 'message', false],
    [0x04, 'smsc_delivery_receipt', true],
    [0x44, 'smsc_delivery_receipt', true],
    [0x07, 'smsc_delivery_receipt', true],
    [0x08, 'sme_delivery_ack', false],
    [0x10, 'sme_manual_ack', false],
    [0x18, 'conversation_abort', false],
    [0x20, 'intermediate_notification', true],
    [0x40, 'message', false],
    [0x0c, 'reserved', false],
  ])('0x%s is %s (receipt: %s)', (esmClass, kind, receipt) => {
    expect(receiptKind(esmClass)).toBe(kind);
    expect(isReceipt(esmClass)).toBe(receipt);
  });
});

describe('receiptOutcome', () => {
  it.each<[string, Parameters<typeof receiptOutcome>[0], DeliveryState, string, string | undefined]>([
    ['message_state 1 ENROUTE', { messageState: 1 }, 'pending', 'ENROUTE', undefined],
    ['message_state 2 DELIVERED', { messageState: 2 }, 'delivered', 'DELIVRD', undefined],
    ['message_state 3 EXPIRED', { messageState: 3 }, 'expired', 'EXPIRED', undefined],
    ['message_state 4 DELETED', { messageState: 4 }, 'failed', 'DELETED', undefined],
    ['message_state 5 UNDELIVERABLE', { messageState: 5 }, 'failed', 'UNDELIV', undefined],
    ['message_state 6 ACCEPTED', { messageState: 6 }, 'pending', 'ACCEPTD', undefined],
    ['message_state 7 UNKNOWN', { messageState: 7 }, 'failed', 'UNKNOWN', undefined],
    ['message_state 8 REJECTED', { messageState: 8 }, 'failed', 'REJECTD', undefined],
    ['the TLV wins over the text', { messageState: 2, stat: 'UNDELIV' }, 'delivered', 'DELIVRD', undefined],
    [
      'an unknown TLV value falls back to the text',
      { messageState: 42, stat: 'UNDELIV' },
      'failed',
      'UNDELIV',
      undefined,
    ],
    ['DELIVRD', { stat: 'DELIVRD', err: '000' }, 'delivered', 'DELIVRD', '000'],
    [
      'DELIVRD with a non-zero err stays delivered',
      { stat: 'DELIVRD', err: '002' },
      'delivered',
      'DELIVRD',
      '002',
    ],
    ['EXPIRED', { stat: 'EXPIRED', err: '032' }, 'expired', 'EXPIRED', '032'],
    ['DELETED', { stat: 'DELETED' }, 'failed', 'DELETED', undefined],
    ['UNDELIV', { stat: 'UNDELIV', err: '1' }, 'failed', 'UNDELIV', '1'],
    ['ACCEPTD', { stat: 'ACCEPTD' }, 'pending', 'ACCEPTD', undefined],
    ['UNKNOWN', { stat: 'UNKNOWN' }, 'failed', 'UNKNOWN', undefined],
    ['REJECTD', { stat: 'REJECTD' }, 'failed', 'REJECTD', undefined],
    ['ENROUTE', { stat: 'ENROUTE' }, 'pending', 'ENROUTE', undefined],
    ['FAILED (non-standard)', { stat: 'FAILED' }, 'failed', 'FAILED', undefined],
    ['lower case', { stat: 'delivrd' }, 'delivered', 'DELIVRD', undefined],
    ['numeric 00 (carrier CSV format)', { stat: '00', err: '' }, 'delivered', '00', undefined],
    ['numeric 0', { stat: '0', err: '0' }, 'delivered', '0', '0'],
    ['an undocumented stat settles nothing', { stat: 'FOO' }, 'pending', 'FOO', undefined],
    ['nothing at all', {}, 'pending', '', undefined],
    [
      'network_error_code as hex: its error number',
      { stat: 'UNDELIV', networkErrorCode: '030020' },
      'failed',
      'UNDELIV',
      '32',
    ],
    [
      'network_error_code as octets',
      { messageState: 5, networkErrorCode: Buffer.from([3, 0, 0x20]) },
      'failed',
      'UNDELIV',
      '32',
    ],
    [
      'err text and network_error_code agree: the text as written',
      { stat: 'UNDELIV', err: '032', networkErrorCode: '030020' },
      'failed',
      'UNDELIV',
      '032',
    ],
    [
      'network_error_code wins over a different err text',
      { stat: 'UNDELIV', err: '001', networkErrorCode: '030020' },
      'failed',
      'UNDELIV',
      '32',
    ],
    [
      'a network_error_code that is not 3 octets stays hex, after the text',
      { stat: 'UNDELIV', networkErrorCode: '0300' },
      'failed',
      'UNDELIV',
      '0300',
    ],
  ])('%s', (_name, input, state, stat, err) => {
    const outcome = receiptOutcome(input);
    expect(outcome).toEqual(err === undefined ? { state, stat } : { state, stat, err });
  });
});

describe('receipt text from the PDU', () => {
  const text = Buffer.from('id:7 stat:DELIVRD', 'latin1');
  const udh = Buffer.from([0x05, 0x00, 0x03, 0x2a, 0x02, 0x01]);

  it.each<[string, Parameters<typeof receiptBytes>[0], string]>([
    ['short_message', { esmClass: 0x04, shortMessage: text }, 'id:7 stat:DELIVRD'],
    [
      'a UDH skipped by its UDHL when UDHI is set',
      { esmClass: 0x44, shortMessage: Buffer.concat([udh, text]) },
      'id:7 stat:DELIVRD',
    ],
    [
      'no UDHI: the octets are text',
      { esmClass: 0x04, shortMessage: Buffer.concat([udh, text]) },
      Buffer.concat([udh, text]).toString('latin1'),
    ],
    [
      'a UDHL longer than the message: no UDH',
      { esmClass: 0x44, shortMessage: Buffer.from([0xff, 0x41]) },
      '\u00ffA',
    ],
    ['empty with UDHI', { esmClass: 0x44, shortMessage: Buffer.alloc(0) }, ''],
    [
      'message_payload instead of short_message',
      { esmClass: 0x04, shortMessage: Buffer.alloc(0), messagePayload: text },
      'id:7 stat:DELIVRD',
    ],
    [
      'message_payload with a UDH',
      { esmClass: 0x44, shortMessage: Buffer.from('x'), messagePayload: Buffer.concat([udh, text]) },
      'id:7 stat:DELIVRD',
    ],
  ])('%s', (_name, input, expected) => {
    expect(receiptBytes(input).toString('latin1')).toBe(expected);
  });

  it.each<[string, Buffer, number, string]>([
    [
      'byte for byte, a GSM escape kept, trailing NULs dropped',
      Buffer.from('id:1 text:H\u001be_x\0\0', 'latin1'),
      0,
      'id:1 text:H\u001be_x',
    ],
    ['UCS2 (data_coding 8)', Buffer.from('id:1 stat:DELIVRD', 'utf16le').swap16(), 8, 'id:1 stat:DELIVRD'],
    ['data_coding 8 with ASCII octets', Buffer.from('id:1 stat:DELIVRD', 'latin1'), 8, 'id:1 stat:DELIVRD'],
  ])('%s', (_name, bytes, dataCoding, expected) => {
    expect(receiptTextOf(bytes, dataCoding)).toBe(expected);
  });
});

describe('readReceipt: the TLVs win over the text', () => {
  const pdu = (textValue: string, tlvs: Partial<Parameters<typeof readReceipt>[0]> = {}) => ({
    esmClass: 0x04,
    dataCoding: 0,
    shortMessage: Buffer.from(textValue, 'latin1'),
    ...tlvs,
  });

  it('text only', () => {
    expect(readReceipt(pdu('id:0042 stat:UNDELIV err:001\0'))).toEqual({
      text: 'id:0042 stat:UNDELIV err:001',
      parsed: { id: '0042', stat: 'UNDELIV', err: '001' },
      id: '0042',
      outcome: { state: 'failed', stat: 'UNDELIV', err: '001' },
      conflicts: [],
    });
  });

  it('TLVs that contradict the text: the TLVs are used, each contradiction is named', () => {
    const read = readReceipt(
      pdu('id:1 stat:UNDELIV err:001', {
        receiptedMessageId: 'AB12\0',
        messageState: 2,
        networkErrorCode: Buffer.from([3, 0, 0]),
      }),
    );
    expect(read.id).toBe('AB12');
    expect(read.outcome).toEqual({ state: 'delivered', stat: 'DELIVRD', err: '0' });
    expect(read.conflicts).toEqual([
      { field: 'id', tlv: 'AB12', text: '1' },
      { field: 'state', tlv: 'DELIVRD', text: 'UNDELIV' },
      { field: 'err', tlv: '0', text: '001' },
    ]);
  });

  it('TLVs alone (no text at all)', () => {
    const read = readReceipt(pdu('', { receiptedMessageId: '9', messageState: 3 }));
    expect(read).toMatchObject({ id: '9', outcome: { state: 'expired', stat: 'EXPIRED' }, conflicts: [] });
  });

  it('neither: no id', () => {
    expect(readReceipt(pdu('hello', { receiptedMessageId: '\0' })).id).toBeUndefined();
  });

  it.each(cases)('%s: read from a PDU with its TLVs', (_name, fixture) => {
    const tlvs = fixture.tlvs ?? {};
    const read = readReceipt({
      esmClass: 0x04,
      dataCoding: fixture.pdu?.data_coding ?? 0,
      shortMessage: Buffer.from(fixture.text, 'latin1'),
      receiptedMessageId: tlvs.receipted_message_id,
      messageState: tlvs.message_state,
      networkErrorCode:
        tlvs.network_error_code === undefined ? undefined : Buffer.from(tlvs.network_error_code, 'hex'),
    });
    expect(read.id).toBe(tlvs.receipted_message_id ?? fixture.expect.id);
    // The real receipts never contradict themselves in state or error number, only (sometimes) in the id's base.
    expect(read.conflicts.filter((c) => c.field !== 'id')).toEqual([]);
  });
});
