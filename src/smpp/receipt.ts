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
// stat:DDDDDDD err:E text:...`. Keys are matched case-insensitively where they start a word.
const KEY_PATTERN = /(?<=^|[\s,;])(id|sub|dlvrd|submit[ _]date|done[ _]date|stat|err|text)\s?:/gi;

function keyOf(raw: string): ReceiptKey {
  return raw.toLowerCase().replace(' ', '_') as ReceiptKey;
}

// A UK carrier's comma-separated format: STATUS,STATUS TIME,ACCEPTED TIME,ERROR,DEST,ORIG,RESERVED.
const CSV_PATTERN = /^([^,:\s]*),(\d*),(\d*),([^,]*),/;

/**
 * Parses the text of a delivery receipt. Values are kept exactly as they appear (no zero stripping, no case
 * change); `text` is everything after its key, up to the trailing NULs. Never throws.
 * Decode the short_message byte for byte (latin1) before calling: decoded as GSM, a trailing NUL would read '@'.
 */
export function parseReceiptText(input: string): ParsedReceipt {
  const text = input.replace(/[\0\s]+$/, '');
  const result: ParsedReceipt = {};
  const matches = [...text.matchAll(KEY_PATTERN)];
  let matchedAny = false;
  for (let i = 0; i < matches.length; i++) {
    const match = matches[i]!;
    const key = keyOf(match[1]!);
    const start = match.index + match[0].length;
    if (key === 'text') {
      // The free text runs to the end; a `stat:` inside it is not a key.
      if (result.text === undefined) result.text = text.slice(start);
      matchedAny = true;
      break;
    }
    const end = matches[i + 1]?.index ?? text.length;
    // One token: an undocumented key that follows (`mccmnc:24008`) is not part of the value.
    if (result[key] === undefined) result[key] = text.slice(start, end).trim().split(/\s/, 1)[0]!;
    matchedAny = true;
  }
  if (matchedAny) return result;

  const csv = CSV_PATTERN.exec(text);
  if (csv) {
    return { stat: csv[1]!, done_date: csv[2]!, submit_date: csv[3]!, err: csv[4]! };
  }
  return result;
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

function networkError(code: Buffer | string | undefined): string | undefined {
  if (code === undefined) return undefined;
  const hex = typeof code === 'string' ? code : code.toString('hex');
  return hex.length > 0 ? hex : undefined;
}

/**
 * What a receipt says about the SMS: the message_state TLV first, else the stat text. A stat nobody
 * documents (e.g. `stat:0` from an unnamed SMSC) is `pending`: it settles nothing and the SMS keeps its
 * submitted state, rather than failing an SMS that may have been delivered. An all-zero numeric stat is
 * `delivered` (a UK carrier's comma-separated receipts use 00 for delivered, as err uses 0 for none).
 * A non-zero err never overrides the stat: real SMSCs send `stat:DELIVRD err:002`.
 */
export function receiptOutcome(input: {
  stat?: string | undefined;
  messageState?: number | undefined;
  err?: string | undefined;
  networkErrorCode?: Buffer | string | undefined;
}): ReceiptOutcome {
  const err = input.err !== undefined && input.err !== '' ? input.err : networkError(input.networkErrorCode);
  const withErr = (outcome: Omit<ReceiptOutcome, 'err'>): ReceiptOutcome =>
    err === undefined ? outcome : { ...outcome, err };

  const fromTlv = input.messageState === undefined ? undefined : MESSAGE_STATES[input.messageState];
  if (fromTlv) return withErr({ state: fromTlv[1], stat: fromTlv[0] });

  const stat = (input.stat ?? '').trim().toUpperCase();
  const known = STAT_WORDS[stat];
  if (known) return withErr({ state: known, stat });
  if (/^0+$/.test(stat)) return withErr({ state: 'delivered', stat });
  return withErr({ state: 'pending', stat });
}

const MAX_CONVERTIBLE = 64;

/**
 * Forms an SMSC message id may take, most exact first, so a receipt matches its submit_sm_resp when one
 * gives the id in hex and the other in decimal (SMPP 3.4 §5.2.23 leaves the format to the SMSC). The store
 * indexes every form; a lookup should prefer the earliest form that matches. Ids that are all digits are
 * also valid hex, so they get both conversions.
 */
export function normaliseMessageId(id: string): string[] {
  const base = id.replace(/\0+$/, '').trim().toLowerCase();
  if (base === '') return [];
  const forms = [base];
  const add = (form: string): void => {
    if (!forms.includes(form)) forms.push(form);
  };
  if (base.length <= MAX_CONVERTIBLE) {
    if (/^[0-9]+$/.test(base)) {
      const value = BigInt(base);
      add(value.toString(10));
      add(value.toString(16));
    }
    if (/^[0-9a-f]+$/.test(base)) {
      const value = BigInt(`0x${base}`);
      add(value.toString(16));
      add(value.toString(10));
    }
  }
  return forms;
}
