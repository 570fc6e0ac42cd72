/** SMPP 3.4 §5.2.12 esm_class bits 5..2 of a deliver_sm: what kind of message it carries. */
export type ReceiptKind =
  | 'message'
  | 'smsc_delivery_receipt'
  | 'sme_delivery_ack'
  | 'sme_manual_ack'
  | 'conversation_abort'
  | 'intermediate_notification'
  | 'reserved';

export function receiptKind(esmClass: number): ReceiptKind {
  switch (esmClass & 0x3c) {
    case 0x00:
      return 'message';
    case 0x04:
      return 'smsc_delivery_receipt';
    case 0x08:
      return 'sme_delivery_ack';
    case 0x10:
      return 'sme_manual_ack';
    case 0x18:
      return 'conversation_abort';
    case 0x20:
      return 'intermediate_notification';
    default:
      return 'reserved';
  }
}

/**
 * True for what the SMSC reports about a message we submitted: the delivery receipt (0x04) and the
 * intermediate notification (0x20, SMPP 3.4 §5.2.12), which carries the same id/stat and must never be
 * taken for a phone's MO text. SME acknowledgements (0x08, 0x10) come from the handset's user: not receipts.
 */
export function isReceipt(esmClass: number): boolean {
  const kind = receiptKind(esmClass);
  return kind === 'smsc_delivery_receipt' || kind === 'intermediate_notification';
}

export interface ParsedReceipt {
  id?: string;
  sub?: string;
  dlvrd?: string;
  submit_date?: string;
  done_date?: string;
  stat?: string;
  err?: string;
  text?: string;
}

type ReceiptKey = keyof ParsedReceipt;

// SMPP 3.4 Appendix B: `id:IIIIIIIIII sub:SSS dlvrd:DDD submit date:YYMMDDhhmm done date:YYMMDDhhmm
// stat:DDDDDDD err:E text:...`. Keys are matched case-insensitively where they start a word (after a blank or vendor punctuation).
const KEY_PATTERN = /(?<=^|[^A-Za-z0-9])(id|sub|dlvrd|submit[ _]date|done[ _]date|stat|err|text)\s?:/gi;

function keyOf(raw: string): ReceiptKey {
  return raw.toLowerCase().replace(' ', '_') as ReceiptKey;
}

// A UK carrier's comma-separated format: STATUS,STATUS TIME,ACCEPTED TIME,ERROR,DEST,ORIG,RESERVED.
const CSV_PATTERN = /^([^,:\s]*),(\d*),(\d*),([^,]*),/;

// An id key glued to vendor text before it (`ABCid:123`), tried only when no `id:` starts a word.
const GLUED_ID = /id\s?:\s?(\S*)/i;

// Appendix B abbreviations are no English words: any case. Spelled-out words only in capitals, so that a
// vendor's "delivered to" prose is not taken for a state.
const STATE_ABBREVIATIONS = new Set(['DELIVRD', 'UNDELIV', 'REJECTD', 'ACCEPTD', 'ENROUTE', 'BUFFRED']);

function bareStateWord(head: string): string | undefined {
  for (const token of head.split(/[^A-Za-z0-9:]+/)) {
    if (token === '' || token.includes(':')) continue;
    if (STATE_ABBREVIATIONS.has(token.toUpperCase())) return token;
    if (token === token.toUpperCase() && STAT_WORDS[token] !== undefined) return token;
  }
  return undefined;
}

/**
 * Parses the text of a delivery receipt. Values are kept exactly as they appear (no zero stripping, no case
 * change); `text` is everything after its key, up to the trailing NULs. Never throws.
 * Decode the short_message byte for byte (latin1) before calling: decoded as GSM, a trailing NUL would read '@'.
 * Tolerated: keys in any case and order, missing keys, vendor text around them (also glued before `id:`),
 * a state word with no `stat:` key, and the comma-separated form above.
 */
export function parseReceiptText(input: string): ParsedReceipt {
  const text = input.replace(/[\0\s]+$/, '');
  const result: ParsedReceipt = {};
  const matches = [...text.matchAll(KEY_PATTERN)];
  let head = text;
  for (let i = 0; i < matches.length; i++) {
    const match = matches[i]!;
    const key = keyOf(match[1]!);
    const start = match.index + match[0].length;
    if (key === 'text') {
      // The free text runs to the end; a `stat:` inside it is not a key.
      if (result.text === undefined) result.text = text.slice(start);
      head = text.slice(0, match.index);
      break;
    }
    const end = matches[i + 1]?.index ?? text.length;
    // One token: an undocumented key that follows (`mccmnc:24008`) is not part of the value.
    if (result[key] === undefined) result[key] = text.slice(start, end).trim().split(/\s/, 1)[0]!;
  }
  if (matches.length === 0) {
    const csv = CSV_PATTERN.exec(text);
    if (csv) return { stat: csv[1]!, done_date: csv[2]!, submit_date: csv[3]!, err: csv[4]! };
  }
  if (result.id === undefined) {
    const glued = GLUED_ID.exec(head);
    if (glued) result.id = glued[1]!;
  }
  if (result.stat === undefined) {
    const word = bareStateWord(head);
    if (word !== undefined) result.stat = word;
  }
  return result;
}

/** SMPP 3.4 §5.2.12 esm_class bit 6: the message starts with a User Data Header. */
const UDHI = 0x40;

/**
 * The octets of a receipt's text: `message_payload` when present (SMPP 3.4 §5.3.2.32), else `short_message`,
 * with the UDH skipped when UDHI is set (3GPP TS 23.040 §9.2.3.24: its first octet, UDHL, counts the rest).
 * A UDHL longer than the message is no UDH: the octets are returned whole.
 */
export function receiptBytes(input: {
  esmClass: number;
  shortMessage: Buffer;
  messagePayload?: Buffer | undefined;
}): Buffer {
  const bytes =
    input.messagePayload && input.messagePayload.length > 0 ? input.messagePayload : input.shortMessage;
  if ((input.esmClass & UDHI) === 0 || bytes.length === 0) return bytes;
  const headerLength = 1 + bytes[0]!;
  return headerLength <= bytes.length ? bytes.subarray(headerLength) : bytes;
}

/**
 * A receipt's text as a string. Receipt text is ASCII whatever data_coding says, so it is read byte for
 * byte (decoded as GSM, '_' would become '§' and a trailing NUL '@'); only UCS2 (data_coding 8, SMPP 3.4
 * §5.2.19) is decoded, as some SMSCs send the receipt in the message's own coding.
 */
export function receiptTextOf(bytes: Buffer, dataCoding: number): string {
  const ucs2 = dataCoding === 8 && bytes.length % 2 === 0 && bytes.length > 0 && bytes[0] === 0;
  const text = ucs2 ? Buffer.from(bytes).swap16().toString('utf16le') : bytes.toString('latin1');
  return text.replace(/\0+$/, '');
}

export type DeliveryState = 'delivered' | 'failed' | 'expired' | 'pending';

export interface ReceiptOutcome {
  state: DeliveryState;
  /** The Appendix B word (from message_state when present), else the receipt's own stat, upper-cased. */
  stat: string;
  err?: string;
}

// SMPP 3.4 §5.2.28 message_state (0 SCHEDULED and 9 SKIPPED are SMPP 5.0 §4.7.15).
const MESSAGE_STATES: Record<number, readonly [string, DeliveryState]> = {
  0: ['SCHEDULED', 'pending'],
  1: ['ENROUTE', 'pending'],
  2: ['DELIVRD', 'delivered'],
  3: ['EXPIRED', 'expired'],
  4: ['DELETED', 'failed'],
  5: ['UNDELIV', 'failed'],
  // ACCEPTED is final in the spec, but many gateways send it as an intermediate ack (Kannel: buffered).
  6: ['ACCEPTD', 'pending'],
  // UNKNOWN: "message is in invalid state", a final state.
  7: ['UNKNOWN', 'failed'],
  8: ['REJECTD', 'failed'],
  9: ['SKIPPED', 'failed'],
};

// SMPP 3.4 Appendix B stat words, plus spellings seen from real SMSCs and gateways.
const STAT_WORDS: Record<string, DeliveryState> = {
  DELIVRD: 'delivered',
  DELIVERED: 'delivered',
  EXPIRED: 'expired',
  DELETED: 'failed',
  UNDELIV: 'failed',
  UNDELIVERABLE: 'failed',
  REJECTD: 'failed',
  REJECTED: 'failed',
  FAILED: 'failed',
  UNKNOWN: 'failed',
  ENROUTE: 'pending',
  ACCEPTD: 'pending',
  ACCEPTED: 'pending',
  BUFFRED: 'pending',
  BUFFERED: 'pending',
  SCHEDULED: 'pending',
};

/** SMPP 3.4 §5.3.2.31 network_error_code: network type (1 octet), then the error code (2 octets). */
export function networkErrorNumber(code: Buffer | string | undefined): number | undefined {
  if (code === undefined) return undefined;
  const bytes = typeof code === 'string' ? Buffer.from(/^[0-9a-f]*$/i.test(code) ? code : '', 'hex') : code;
  return bytes.length === 3 ? bytes.readUInt16BE(1) : undefined;
}

function networkErrorText(code: Buffer | string | undefined): string | undefined {
  if (code === undefined) return undefined;
  const number = networkErrorNumber(code);
  if (number !== undefined) return String(number);
  const hex = typeof code === 'string' ? code : code.toString('hex');
  return hex.length > 0 ? hex : undefined;
}

/**
 * What a receipt says about the SMS: the message_state TLV first, else the stat text. A stat nobody
 * documents (e.g. `stat:0` from an unnamed SMSC) is `pending`: it settles nothing and the SMS keeps its
 * submitted state, rather than failing an SMS that may have been delivered. An all-zero numeric stat is
 * `delivered` (a UK carrier's comma-separated receipts use 00 for delivered, as err uses 0 for none).
 * A non-zero err never overrides the stat: real SMSCs send `stat:DELIVRD err:002`.
 * The network_error_code TLV wins over `err:` when they differ (`err:032` and `030020` agree: 0x0020 = 32).
 */
export function receiptOutcome(input: {
  stat?: string | undefined;
  messageState?: number | undefined;
  err?: string | undefined;
  networkErrorCode?: Buffer | string | undefined;
}): ReceiptOutcome {
  const textErr = input.err !== undefined && input.err !== '' ? input.err : undefined;
  const tlvErr = networkErrorText(input.networkErrorCode);
  const agree = textErr !== undefined && /^\d+$/.test(textErr) && Number(textErr) === Number(tlvErr);
  const err = tlvErr === undefined || agree ? textErr : tlvErr;
  const withErr = (outcome: Omit<ReceiptOutcome, 'err'>): ReceiptOutcome =>
    err === undefined ? outcome : { ...outcome, err };

  const fromTlv = input.messageState === undefined ? undefined : MESSAGE_STATES[input.messageState];
  if (fromTlv) return withErr({ state: fromTlv[1], stat: fromTlv[0] });
  return withErr(statOutcome(input.stat));
}

function statOutcome(raw: string | undefined): Omit<ReceiptOutcome, 'err'> {
  const stat = (raw ?? '').trim().toUpperCase();
  const known = STAT_WORDS[stat];
  if (known) return { state: known, stat };
  if (/^0+$/.test(stat)) return { state: 'delivered', stat };
  return { state: 'pending', stat };
}

/** The parts of a deliver_sm / data_sm a receipt is read from (a subset of `InboundPdu`). */
export interface ReceiptPdu {
  esmClass: number;
  dataCoding: number;
  shortMessage: Buffer;
  messagePayload?: Buffer | undefined;
  receiptedMessageId?: string | undefined;
  messageState?: number | undefined;
  networkErrorCode?: Buffer | undefined;
}

/** A TLV that says otherwise than the text; the TLV's value is the one used. */
export interface ReceiptConflict {
  field: 'id' | 'state' | 'err';
  tlv: string;
  text: string;
}

export interface ReadReceipt {
  /** the receipt text, UDH skipped, trailing NULs dropped */
  text: string;
  parsed: ParsedReceipt;
  /** receipted_message_id when present, else the text's id; undefined when neither has one */
  id: string | undefined;
  outcome: ReceiptOutcome;
  conflicts: ReceiptConflict[];
}

/**
 * Reads one receipt PDU: the text, and the TLVs, which win where both speak (SMPP 3.4 §5.3.2.12
 * receipted_message_id, §5.3.2.35 message_state, §5.3.2.31 network_error_code). Never throws.
 */
export function readReceipt(pdu: ReceiptPdu): ReadReceipt {
  const text = receiptTextOf(receiptBytes(pdu), pdu.dataCoding);
  const parsed = parseReceiptText(text);
  const tlvId = pdu.receiptedMessageId?.replace(/\0+$/, '').trim() || undefined;
  const outcome = receiptOutcome({
    stat: parsed.stat,
    messageState: pdu.messageState,
    err: parsed.err,
    networkErrorCode: pdu.networkErrorCode,
  });
  const conflicts: ReceiptConflict[] = [];
  if (tlvId !== undefined && parsed.id !== undefined && parsed.id !== tlvId) {
    conflicts.push({ field: 'id', tlv: tlvId, text: parsed.id });
  }
  const fromTlv = pdu.messageState === undefined ? undefined : MESSAGE_STATES[pdu.messageState];
  if (fromTlv && parsed.stat !== undefined && statOutcome(parsed.stat).state !== fromTlv[1]) {
    conflicts.push({ field: 'state', tlv: fromTlv[0], text: parsed.stat });
  }
  const tlvErr = networkErrorNumber(pdu.networkErrorCode);
  if (tlvErr !== undefined && parsed.err !== undefined && /^\d+$/.test(parsed.err)) {
    if (Number(parsed.err) !== tlvErr)
      conflicts.push({ field: 'err', tlv: String(tlvErr), text: parsed.err });
  }
  return { text, parsed, id: tlvId ?? (parsed.id || undefined), outcome, conflicts };
}
