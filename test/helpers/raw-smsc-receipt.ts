import { Tag } from './raw-smsc-pdu.js';

/** Ids and receipt texts of `raw-smsc.ts`, written by hand (no src/smpp code). */

/** How submit_sm_resp numbers messages; `n` counts submits from `firstId`. */
export type IdScheme = 'decimal' | 'decimal_padded' | 'hex' | 'hex_upper' | 'uuid';

/** `same`: the receipt quotes the submit_sm_resp id; otherwise the same `n` in another scheme. */
export type ReceiptIdForm = 'same' | Exclude<IdScheme, 'uuid'>;

/**
 * - `standard`: SMPP 3.4 Appendix B text, no TLVs.
 * - `tlvs`: the same text plus receipted_message_id, message_state, network_error_code.
 * - `tlvs_only`: an empty short_message and the TLVs.
 * - `bare_word`: Appendix B text with the state as a bare word (no `stat:` key).
 */
export type ReceiptStyle = 'standard' | 'tlvs' | 'tlvs_only' | 'bare_word';

export type ReceiptStat =
  | 'DELIVRD'
  | 'UNDELIV'
  | 'EXPIRED'
  | 'REJECTD'
  | 'DELETED'
  | 'UNKNOWN'
  | 'ACCEPTD'
  | 'ENROUTE';

// SMPP 3.4 §5.2.28 message_state
const MESSAGE_STATE: Record<ReceiptStat, number> = {
  ENROUTE: 1,
  DELIVRD: 2,
  EXPIRED: 3,
  DELETED: 4,
  UNDELIV: 5,
  ACCEPTD: 6,
  UNKNOWN: 7,
  REJECTD: 8,
};

export function formatId(n: number, scheme: Exclude<IdScheme, 'uuid'>): string {
  switch (scheme) {
    case 'decimal':
      return String(n);
    case 'decimal_padded':
      return String(n).padStart(10, '0');
    case 'hex':
      return n.toString(16);
    case 'hex_upper':
      return n.toString(16).toUpperCase();
  }
}

/** SMPP 3.4 Appendix B date: YYMMDDhhmm. */
function receiptDate(date: Date): string {
  return date.toISOString().replace(/^\d\d(\d\d)-(\d\d)-(\d\d)T(\d\d):(\d\d).*$/, '$1$2$3$4$5');
}

export interface ReceiptContent {
  esmClass: number;
  text: Buffer;
  tlvs: Map<number, Buffer>;
}

/** The short_message, esm_class and TLVs of a receipt in one of the styles. */
export function receiptContent(r: {
  messageId: string;
  stat: ReceiptStat;
  style: ReceiptStyle;
  /** the submitted text, quoted in `text:` (20 octets at most) */
  quote: Buffer;
  udh?: Buffer | undefined;
}): ReceiptContent {
  const now = receiptDate(new Date());
  const err = r.stat === 'DELIVRD' ? '000' : '001';
  const dlvrd = r.stat === 'DELIVRD' ? '001' : '000';
  const state = r.style === 'bare_word' ? r.stat : `stat:${r.stat}`;
  const quote = r.quote.subarray(0, 20).toString('latin1');
  let text =
    r.style === 'tlvs_only'
      ? Buffer.alloc(0)
      : Buffer.from(
          `id:${r.messageId} sub:001 dlvrd:${dlvrd} submit date:${now} done date:${now} ${state} err:${err} text:${quote}`,
          'latin1',
        );
  let esmClass = 0x04; // SMPP 3.4 §5.2.12 SMSC delivery receipt
  if (r.udh && text.length > 0) {
    // 3GPP TS 23.040 §9.2.3.24: UDHL, then the header; esm_class 0x40 UDHI
    text = Buffer.concat([Buffer.from([r.udh.length]), r.udh, text]);
    esmClass |= 0x40;
  }
  const tlvs = new Map<number, Buffer>();
  if (r.style === 'tlvs' || r.style === 'tlvs_only') {
    tlvs.set(Tag.receipted_message_id, Buffer.from(`${r.messageId}\0`, 'latin1'));
    tlvs.set(Tag.message_state, Buffer.from([MESSAGE_STATE[r.stat]]));
    // SMPP 3.4 §5.3.2.31: network type 3 (GSM), then the error code
    tlvs.set(Tag.network_error_code, Buffer.from([3, 0, Number(err)]));
  }
  return { esmClass, text, tlvs };
}
