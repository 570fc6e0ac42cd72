import type smpp from 'smpp';
import { decodeText, gsmSeptets } from '../smpp/encoding.js';
import { messageBytes } from '../smpp/raw-pdu.js';
import { parseUdh } from '../smpp/reassemble.js';
import type { ReceivedSms } from './smsc-types.js';

/** SMPP 3.4 §5.2.25 message_state by the receipt's `stat:` word. */
export const RECEIPT_STATES = {
  ENROUTE: 1,
  DELIVRD: 2,
  EXPIRED: 3,
  DELETED: 4,
  UNDELIV: 5,
  ACCEPTD: 6,
  UNKNOWN: 7,
  REJECTD: 8,
} as const;

export type ReceiptStat = keyof typeof RECEIPT_STATES;

export type IdBase = 'hex' | 'decimal';

export function formatMessageId(n: number, base: IdBase): string {
  return base === 'hex' ? n.toString(16) : String(n);
}

/** YYMMDDhhmm, as SMPP 3.4 Appendix B receipts carry their dates. */
function receiptDate(d: Date): string {
  const two = (n: number) => String(n).padStart(2, '0');
  return `${two(d.getUTCFullYear() % 100)}${two(d.getUTCMonth() + 1)}${two(d.getUTCDate())}${two(d.getUTCHours())}${two(d.getUTCMinutes())}`;
}

/** SMPP 3.4 Appendix B: the de-facto receipt text; its `text:` quotes the first 20 characters. */
export function receiptText(input: {
  id: string;
  stat: ReceiptStat;
  err: string;
  submitted: Date;
  done: Date;
  text: string;
}): string {
  const delivered = input.stat === 'DELIVRD' ? '001' : '000';
  // Keep the receipt in the GSM alphabet whatever the original text was.
  const quoted = [...input.text.slice(0, 20)].map((ch) => (gsmSeptets(ch) === 0 ? '?' : ch)).join('');
  return (
    `id:${input.id} sub:001 dlvrd:${delivered} submit date:${receiptDate(input.submitted)} ` +
    `done date:${receiptDate(input.done)} stat:${input.stat} err:${input.err} text:${quoted}`
  );
}

/** SMPP 3.4 §5.2.19 data_coding, as a word for the log line. */
export function encodingName(dataCoding: number): string {
  switch (dataCoding) {
    case 0:
      return 'GSM';
    case 1:
      return 'ASCII';
    case 3:
      return 'LATIN1';
    case 4:
      return 'BINARY';
    case 8:
      return 'UCS2';
    default:
      return `DCS0x${dataCoding.toString(16).padStart(2, '0')}`;
  }
}

/** An address with TON 1 (international) as E.164 with `+`. */
export function displayAddress(addr: string, ton: number): string {
  return ton === 1 && /^\d+$/.test(addr) ? `+${addr}` : addr;
}

/** `+447700900001` -> TON 1 and `447700900001`; anything else is sent as given with TON 0 (5 if alphanumeric). */
export function toSmppAddress(addr: string): { ton: number; addr: string } {
  if (/^\+\d+$/.test(addr)) return { ton: 1, addr: addr.slice(1) };
  if (/^\d*$/.test(addr)) return { ton: 0, addr };
  return { ton: 5, addr };
}

/** What the simulator records of a submit_sm: the text decoded without its UDH. */
export function readSubmitSm(
  pdu: smpp.Pdu<'submit_sm'>,
  connectionSystemId: string,
  messageId: string,
): Omit<ReceivedSms, 'session' | 'answered'> {
  const shortMessage = messageBytes(pdu.short_message);
  const payload = pdu.message_payload === undefined ? undefined : messageBytes(pdu.message_payload);
  const esmClass = pdu.esm_class ?? 0;
  const dataCoding = pdu.data_coding ?? 0;
  // SMPP 3.4 §5.2.12 esm_class 0x40: the short_message starts with a UDH.
  const udh = esmClass & 0x40 ? parseUdh(shortMessage) : undefined;
  const body = payload && shortMessage.length === 0 ? payload : (udh?.body ?? shortMessage);
  const concat = udh?.concat;
  return {
    to: displayAddress(pdu.destination_addr ?? '', pdu.dest_addr_ton ?? 0),
    from: displayAddress(pdu.source_addr ?? '', pdu.source_addr_ton ?? 0),
    text: decodeText(body, dataCoding),
    dataCoding,
    esmClass,
    udh: udh && udh.headerLength > 0 ? shortMessage.subarray(0, udh.headerLength) : undefined,
    shortMessage,
    messagePayload: payload,
    messageId,
    registeredDelivery: pdu.registered_delivery ?? 0,
    priorityFlag: pdu.priority_flag ?? 0,
    part: concat
      ? { seq: concat.seq, total: concat.total }
      : { seq: pdu.sar_segment_seqnum ?? 1, total: pdu.sar_total_segments ?? 1 },
    connectionSystemId,
    at: new Date(),
  };
}
