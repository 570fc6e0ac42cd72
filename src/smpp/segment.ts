import { BridgeError } from '../errors.js';
import { DataCoding, encodeGsm, encodeText, encodeUcs2, fitsGsm, gsmSeptets } from './encoding.js';

/** One submit_sm worth of a (possibly concatenated) SMS. */
export interface SmsPart {
  dataCoding: 0 | 8;
  /** UDH (when `udhi`) followed by the payload: unpacked septets for GSM, UTF-16BE for UCS2. */
  shortMessage: Buffer;
  /** Set esm_class |= 0x40 (SMPP 3.4 §5.2.12 UDHI) when true. */
  udhi: boolean;
  partNumber: number;
  totalParts: number;
}

export interface SplitOptions {
  /** Most parts one SMS may take. Default 4; capped at 255 (one octet in the UDH). */
  maxParts?: number;
  /** Concatenation IEI: 0x00 8-bit reference (6-octet UDH, default) or 0x08 16-bit reference (7 octets). */
  iei?: 0x00 | 0x08;
  /** Concatenation reference; must differ between long SMS to the same handset. Masked to 8 or 16 bits. */
  reference: number;
  /** What to do when the text needs more than `maxParts`: cut it with an ellipsis (default) or throw. */
  onOverflow?: 'truncate' | 'reject';
}

export interface SplitResult {
  parts: SmsPart[];
  dataCoding: 0 | 8;
  truncated: boolean;
  /** Septets or UTF-16 units of the text actually sent (after truncation). */
  units: number;
}

// 3GPP TS 23.040 §9.2.3.24: 140 octets of user data; a lone part needs no UDH.
const USER_DATA_OCTETS = 140;
const SINGLE_LIMIT = { [DataCoding.GSM]: 160, [DataCoding.UCS2]: 70 } as const;
const MAX_TOTAL = 255;

interface Token {
  text: string;
  units: number;
}

/** Atoms that never straddle two parts: a GSM escape sequence, a UTF-16 surrogate pair. */
function tokenize(text: string, dataCoding: 0 | 8): Token[] {
  const tokens: Token[] = [];
  for (let i = 0; i < text.length; i++) {
    const ch = text.charAt(i);
    if (dataCoding === DataCoding.GSM) {
      tokens.push({ text: ch, units: gsmSeptets(ch) });
      continue;
    }
    const code = text.charCodeAt(i);
    const next = text.charCodeAt(i + 1);
    if (code >= 0xd800 && code <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
      tokens.push({ text: text.slice(i, i + 2), units: 2 });
      i++;
    } else {
      tokens.push({ text: ch, units: 1 });
    }
  }
  return tokens;
}

function chunk(tokens: Token[], limit: number): Token[][] {
  const chunks: Token[][] = [];
  let current: Token[] = [];
  let used = 0;
  for (const token of tokens) {
    if (used + token.units > limit) {
      chunks.push(current);
      current = [];
      used = 0;
    }
    current.push(token);
    used += token.units;
  }
  chunks.push(current);
  return chunks;
}

const sumUnits = (tokens: Token[]): number => tokens.reduce((n, t) => n + t.units, 0);

/** Units per concatenated part, from the octets left after the UDH. */
function partLimit(dataCoding: 0 | 8, udhLength: number): number {
  const octets = USER_DATA_OCTETS - udhLength;
  // 3GPP TS 23.040 §9.2.3.24: GSM septets start on a septet boundary after the UDH (fill bits), so
  // 6 octets of UDH leave 153 septets and 7 leave 152. SMPP carries them unpacked; the SMSC packs them.
  return dataCoding === DataCoding.GSM ? Math.floor((octets * 8) / 7) : Math.floor(octets / 2);
}

function udh(iei: 0x00 | 0x08, reference: number, total: number, seq: number): Buffer {
  // 3GPP TS 23.040 §9.2.3.24.1 (8-bit reference) and §9.2.3.24.8 (16-bit reference).
  if (iei === 0x08) {
    return Buffer.from([0x06, 0x08, 0x04, (reference >> 8) & 0xff, reference & 0xff, total, seq]);
  }
  return Buffer.from([0x05, 0x00, 0x03, reference & 0xff, total, seq]);
}

function encodeChunk(tokens: Token[], dataCoding: 0 | 8): Buffer {
  const text = tokens.map((t) => t.text).join('');
  return dataCoding === DataCoding.GSM ? encodeGsm(text) : encodeUcs2(text);
}

/**
 * Splits a text into submit_sm parts: one part when it fits 160 septets / 70 UCS2 units, else UDH
 * concatenation (153/152 septets or 67/66 units per part for IEI 0x00/0x08).
 */
export function splitSms(text: string, opts: SplitOptions): SplitResult {
  const dataCoding: 0 | 8 = fitsGsm(text) ? DataCoding.GSM : DataCoding.UCS2;
  const maxParts = Math.min(MAX_TOTAL, Math.max(1, Math.floor(opts.maxParts ?? 4)));
  const iei = opts.iei ?? 0x00;
  const single = SINGLE_LIMIT[dataCoding];
  // The usual alert fits one part: encoded once, no per-character tokens. GSM takes an octet per septet
  // (two for an escape), UCS2 two per UTF-16 unit, so the octets give the units a part is counted in.
  const whole = dataCoding === DataCoding.GSM ? encodeGsm(text) : encodeUcs2(text);
  const wholeUnits = dataCoding === DataCoding.GSM ? whole.length : whole.length / 2;
  if (wholeUnits <= single) {
    return {
      parts: [{ dataCoding, shortMessage: whole, udhi: false, partNumber: 1, totalParts: 1 }],
      dataCoding,
      truncated: false,
      units: wholeUnits,
    };
  }
  const tokens = tokenize(text, dataCoding);
  const units = sumUnits(tokens);
  if (units <= single) return assemble([tokens], dataCoding, iei, opts.reference, false);

  const limit = partLimit(dataCoding, iei === 0x08 ? 7 : 6);
  const chunks = chunk(tokens, limit);
  if (chunks.length <= maxParts) return assemble(chunks, dataCoding, iei, opts.reference, false);
  if (opts.onOverflow === 'reject') {
    throw new BridgeError(
      'ERR_SMS_TOO_LONG',
      `the text needs ${chunks.length} SMS parts but at most ${maxParts} are allowed`,
      { details: { parts: chunks.length, maxParts, units, dataCoding } },
    );
  }
  // '…' (U+2026) is not in GSM 03.38, so GSM text ends with three dots instead.
  const ellipsis = tokenize(dataCoding === DataCoding.GSM ? '...' : '…', dataCoding);
  const kept = maxParts === 1 ? [chunk(tokens, single)[0]!] : chunks.slice(0, maxParts);
  const last = kept[kept.length - 1]!;
  const lastLimit = maxParts === 1 ? single : limit;
  while (last.length > 0 && sumUnits(last) + sumUnits(ellipsis) > lastLimit) last.pop();
  last.push(...ellipsis);
  return assemble(kept, dataCoding, iei, opts.reference, true);
}

function assemble(
  chunks: Token[][],
  dataCoding: 0 | 8,
  iei: 0x00 | 0x08,
  reference: number,
  truncated: boolean,
): SplitResult {
  const units = chunks.reduce((n, c) => n + sumUnits(c), 0);
  const total = chunks.length;
  if (total === 1) {
    const shortMessage = encodeChunk(chunks[0]!, dataCoding);
    return {
      parts: [{ dataCoding, shortMessage, udhi: false, partNumber: 1, totalParts: 1 }],
      dataCoding,
      truncated,
      units,
    };
  }
  const parts = chunks.map((c, i) => ({
    dataCoding,
    shortMessage: Buffer.concat([udh(iei, reference, total, i + 1), encodeChunk(c, dataCoding)]),
    udhi: true,
    partNumber: i + 1,
    totalParts: total,
  }));
  return { parts, dataCoding, truncated, units };
}

/** The whole text for the message_payload TLV (SMPP 3.4 §5.3.2.32): no UDH, the SMSC segments. */
export function messagePayload(text: string): { dataCoding: 0 | 8; payload: Buffer } {
  const { dataCoding, bytes } = encodeText(text);
  return { dataCoding, payload: bytes };
}
