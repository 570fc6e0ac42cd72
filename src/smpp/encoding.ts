import { BridgeError } from '../errors.js';

/** SMPP 3.4 §5.2.19 data_coding values the bridge submits with. */
export const DataCoding = { GSM: 0, UCS2: 8 } as const;

const ESC = 0x1b;

// 3GPP TS 23.038 §6.2.1 default alphabet, indexed by septet. 0x1B is the escape, never a character of its own.
const BASIC =
  '@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\u001bÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?' +
  '¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà';

// 3GPP TS 23.038 §6.2.1.1 extension table (reached by 0x1B).
const EXTENSION: ReadonlyArray<readonly [number, string]> = [
  [0x0a, '\f'],
  [0x14, '^'],
  [0x28, '{'],
  [0x29, '}'],
  [0x2f, '\\'],
  [0x3c, '['],
  [0x3d, '~'],
  [0x3e, ']'],
  [0x40, '|'],
  [0x65, '€'],
];

const EXT_CHAR = new Map<number, string>(EXTENSION);

/**
 * The septet of each UTF-16 code unit, by its code: the basic table's (0-127), 0x100 | the extension table's
 * (sent as 0x1B then that septet), or -1 when it is not in the alphabet. 16 KB, up to '€' (U+20AC); a table
 * instead of Map lookups by one-character strings, which cost a hash per character of every SMS text.
 */
const SEPTET = (() => {
  let max = 0;
  for (let i = 0; i < BASIC.length; i++) max = Math.max(max, BASIC.charCodeAt(i));
  for (const [, ch] of EXTENSION) max = Math.max(max, ch.charCodeAt(0));
  const table = new Int16Array(max + 1).fill(-1);
  for (let i = 0; i < BASIC.length; i++) if (i !== ESC) table[BASIC.charCodeAt(i)] = i;
  for (const [code, ch] of EXTENSION) table[ch.charCodeAt(0)] = 0x100 | code;
  return table;
})();

function septetOf(code: number): number {
  return code < SEPTET.length ? SEPTET[code]! : -1;
}

/** Septets a GSM-encodable character takes: 1, 2 for extension characters, 0 if it is not GSM. */
export function gsmSeptets(ch: string): 0 | 1 | 2 {
  if (ch.length !== 1) return 0;
  const septet = septetOf(ch.charCodeAt(0));
  return septet < 0 ? 0 : septet < 0x100 ? 1 : 2;
}

/** True when every character is in the GSM 03.38 default alphabet or its extension table. */
export function fitsGsm(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (septetOf(text.charCodeAt(i)) < 0) return false;
  return true;
}

/**
 * Unpacked septets, one per octet, as SMPP carries data_coding 0 (the SMSC packs them for the air interface).
 * Callers check `fitsGsm` first; a character outside the alphabet is a programming error.
 */
export function encodeGsm(text: string): Buffer {
  // its length first: one buffer of the right size, no second Buffer object for a slice of it
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const septet = septetOf(text.charCodeAt(i));
    if (septet < 0) {
      throw new BridgeError(
        'ERR_SMS_REJECTED',
        `character U+${text.charCodeAt(i).toString(16).toUpperCase().padStart(4, '0')} at index ${i} is not in the GSM 03.38 alphabet`,
        { details: { index: i } },
      );
    }
    n += septet < 0x100 ? 1 : 2;
  }
  const out = Buffer.allocUnsafe(n);
  let at = 0;
  for (let i = 0; i < text.length; i++) {
    const septet = septetOf(text.charCodeAt(i));
    if (septet < 0x100) out[at++] = septet;
    else {
      out[at++] = ESC;
      out[at++] = septet & 0x7f;
    }
  }
  return out;
}

/**
 * Inverse of `encodeGsm`. Never throws: 3GPP TS 23.038 §6.2.1.1 says an unknown escape shows the base-table
 * character and 0x1B 0x1B shows a space; a lone 0x1B at the end is dropped; octets above 0x7F are no septet
 * at all and become '?'.
 */
export function decodeGsm(buf: Buffer): string {
  let out = '';
  for (let i = 0; i < buf.length; i++) {
    const b = buf[i]!;
    if (b === ESC) {
      if (i + 1 >= buf.length) break;
      const next = buf[++i]!;
      if (next === ESC) out += ' ';
      else out += EXT_CHAR.get(next) ?? (next < 0x80 ? BASIC.charAt(next) : '?');
      continue;
    }
    out += b < 0x80 ? BASIC.charAt(b) : '?';
  }
  return out;
}

/** UTF-16BE; surrogate pairs (and even lone surrogates) are kept as code units. */
export function encodeUcs2(text: string): Buffer {
  return Buffer.from(text, 'utf16le').swap16();
}

/** UTF-16BE to string; an odd trailing octet is ignored. */
export function decodeUcs2(buf: Buffer): string {
  const even = Buffer.from(buf.subarray(0, buf.length - (buf.length % 2)));
  return even.swap16().toString('utf16le');
}

type Charset = 'gsm' | 'ucs2' | 'ascii' | 'latin1' | 'binary' | 'compressed' | { label: string };

// SMPP 3.4 §5.2.19 data_coding; values above 0x0F follow 3GPP TS 23.038 §4 (coding groups).
function charsetOf(dataCoding: number): Charset {
  const dcs = dataCoding & 0xff;
  if (dcs < 0x10) {
    switch (dcs) {
      case 0x00:
        return 'gsm';
      case 0x01:
        return 'ascii';
      case 0x03:
        return 'latin1';
      case 0x06:
        return { label: 'iso-8859-5' };
      case 0x07:
        return { label: 'iso-8859-8' };
      case 0x08:
        return 'ucs2';
      case 0x0a:
        return { label: 'iso-2022-jp' };
      case 0x0e:
        return { label: 'euc-kr' };
      default:
        // 2 and 4 are 8-bit binary; 5, 9, 13 (JIS, pictogram, extended kanji) have no decoder: keep the octets.
        return 'binary';
    }
  }
  // 23.038 §4 general data coding (00xx) and automatic deletion (01xx): bit 5 compressed, bits 3..2 alphabet.
  if (dcs < 0x80) {
    if (dcs & 0x20) return 'compressed';
    const alphabet = (dcs >> 2) & 0x03;
    return alphabet === 1 ? 'binary' : alphabet === 2 ? 'ucs2' : 'gsm';
  }
  if (dcs >= 0xc0 && dcs < 0xe0) return 'gsm'; // message waiting, GSM default alphabet
  if (dcs >= 0xe0 && dcs < 0xf0) return 'ucs2'; // message waiting, UCS2
  if (dcs >= 0xf0) return dcs & 0x04 ? 'binary' : 'gsm'; // data coding / message class
  return 'binary'; // 0x80-0xBF reserved
}

/** Decodes a short_message or message_payload by its data_coding. Never throws. */
export function decodeText(buf: Buffer, dataCoding: number): string {
  const charset = charsetOf(dataCoding);
  switch (charset) {
    case 'gsm':
      return decodeGsm(buf);
    case 'ucs2':
      return decodeUcs2(buf);
    case 'ascii':
      return buf.toString('ascii');
    case 'latin1':
    case 'binary':
    case 'compressed':
      return buf.toString('latin1');
    default:
      try {
        return new TextDecoder(charset.label).decode(buf);
      } catch {
        return buf.toString('latin1');
      }
  }
}

export interface EncodedText {
  dataCoding: 0 | 8;
  bytes: Buffer;
  /** GSM septets (escapes count 2) or UTF-16 code units. */
  units: number;
}

/** GSM 03.38 when every character fits, else UCS2. */
export function encodeText(text: string): EncodedText {
  if (fitsGsm(text)) {
    const bytes = encodeGsm(text);
    return { dataCoding: DataCoding.GSM, bytes, units: bytes.length };
  }
  return { dataCoding: DataCoding.UCS2, bytes: encodeUcs2(text), units: text.length };
}
