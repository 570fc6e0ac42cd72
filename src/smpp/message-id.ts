/**
 * Matching a delivery receipt to the SMS it settles. SMPP 3.4 §5.2.23 leaves the message_id format to the
 * SMSC, and some SMSCs give it in hex in submit_sm_resp and in decimal in the receipt (or the reverse). An
 * id is matched exactly as the SMSC gave it first; another reading only when the connection's
 * `message_id_format` allows it, and then only if exactly one SMS could own the receipt.
 */

/**
 * How the SMSC of one connection writes the id of the same message in submit_sm_resp and in its receipts:
 * - `exact`: the same string (after trailing NULs and blanks).
 * - `hex_to_decimal`: hex in submit_sm_resp, decimal in the receipt.
 * - `decimal_to_hex`: decimal in submit_sm_resp, hex in the receipt.
 * - `auto`: exact first; then case and leading zeros, and a hex/decimal conversion only where the hex side
 *   has a letter a-f (two all-digit ids are never taken for the same number in two bases).
 */
export type MessageIdFormat = 'exact' | 'hex_to_decimal' | 'decimal_to_hex' | 'auto';

export const MESSAGE_ID_FORMATS: readonly MessageIdFormat[] = [
  'exact',
  'hex_to_decimal',
  'decimal_to_hex',
  'auto',
];

/** What the store keeps for one submitted part (per connection): two indexed columns. */
export interface StoredKeys {
  /** The id as given, without trailing NULs and surrounding blanks. Matched by `kind: 'exact'` keys only. */
  exact: string;
  /** `canonicalId(exact)`; absent for `exact`. Matched by `kind: 'alternate'` keys only. */
  alternate?: string;
}

export interface LookupKey {
  key: string;
  kind: 'exact' | 'alternate';
}

export type OwnerChoice<T> =
  | { owner: T; via: 'exact' | 'alternate' }
  | { ambiguous: T[]; via: 'exact' | 'alternate' }
  | { none: true };

// SMPP 3.4 §5.2.23: message_id is a C-Octet String of at most 65 octets, so 64 characters.
const MAX_CONVERTIBLE = 64;
const DIGITS = /^[0-9]+$/;
const HEX = /^[0-9a-f]+$/i;
const HEX_LETTER = /[a-f]/i;

/** The id without trailing NULs and surrounding blanks: the only change that is always safe. */
export function cleanId(id: string): string {
  return id.replace(/\0+$/, '').trim();
}

/**
 * The form both sides of an alternate match are brought to: lower case, and leading zeros dropped from an
 * all-hex id (`0059113978` -> `59113978`, `5F878C79` -> `5f878c79`). A UUID keeps its zeros.
 */
export function canonicalId(id: string): string {
  const lower = cleanId(id).toLowerCase();
  if (!HEX.test(lower)) return lower;
  return lower.replace(/^0+(?=.)/, '');
}

function hexToDecimal(id: string): string | undefined {
  return HEX.test(id) && id.length <= MAX_CONVERTIBLE ? BigInt(`0x${id}`).toString(10) : undefined;
}

function decimalToHex(id: string): string | undefined {
  return DIGITS.test(id) && id.length <= MAX_CONVERTIBLE ? BigInt(id).toString(16) : undefined;
}

/**
 * Keys to store for the id an SMSC gave in submit_sm_resp; undefined for an empty id (which can own no
 * receipt). The alternate is the canonical form whatever the format, so rows stored under one setting are
 * still found after the setting changes; the hex/decimal conversion happens on the receipt's side.
 */
export function storedKeys(messageId: string, format: MessageIdFormat): StoredKeys | undefined {
  const exact = cleanId(messageId);
  if (exact === '') return undefined;
  return format === 'exact' ? { exact } : { exact, alternate: canonicalId(exact) };
}

/**
 * Keys to look a receipt's id up by, in order: the exact key first, then the alternate readings the format
 * implies (each to be compared with `StoredKeys.alternate`). Empty for an empty id.
 */
export function lookupKeys(receiptId: string, format: MessageIdFormat): LookupKey[] {
  const exact = cleanId(receiptId);
  if (exact === '') return [];
  const keys: LookupKey[] = [{ key: exact, kind: 'exact' }];
  const alternates: Array<string | undefined> = [];
  const canonical = canonicalId(exact);
  switch (format) {
    case 'exact':
      break;
    case 'hex_to_decimal':
      // The receipt is decimal: the hex the submit gave. A receipt in hex after all: case and zeros.
      alternates.push(DIGITS.test(exact) ? decimalToHex(exact) : canonical);
      break;
    case 'decimal_to_hex':
      alternates.push(HEX.test(exact) ? hexToDecimal(exact) : canonical);
      break;
    case 'auto': {
      alternates.push(canonical);
      // Only a hex side with a letter is surely hex: `16` may be sixteen or twenty-two, `1f` is not decimal.
      if (HEX_LETTER.test(exact)) alternates.push(hexToDecimal(exact));
      const asHex = decimalToHex(exact);
      if (asHex !== undefined && HEX_LETTER.test(asHex)) alternates.push(asHex);
      break;
    }
  }
  for (const key of alternates) {
    if (key !== undefined && !keys.some((k) => k.kind === 'alternate' && k.key === key)) {
      keys.push({ key, kind: 'alternate' });
    }
  }
  return keys;
}

/**
 * Which SMS a receipt settles, from the SMS of that connection that await a receipt: those whose exact key
 * matched, and those whose alternate key matched. Exact first; an alternate match only when the format
 * allows one and exactly one SMS matched. Candidates are compared with `===` (pass row ids).
 */
export function chooseOwner<T>(
  candidatesExact: readonly T[],
  candidatesAlternate: readonly T[],
  format: MessageIdFormat,
): OwnerChoice<T> {
  const exact = [...new Set(candidatesExact)];
  if (exact.length === 1) return { owner: exact[0]!, via: 'exact' };
  if (exact.length > 1) return { ambiguous: exact, via: 'exact' };
  if (format === 'exact') return { none: true };
  const alternate = [...new Set(candidatesAlternate)];
  if (alternate.length === 1) return { owner: alternate[0]!, via: 'alternate' };
  if (alternate.length > 1) return { ambiguous: alternate, via: 'alternate' };
  return { none: true };
}
