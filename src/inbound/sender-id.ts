import { type CountryCode, parsePhoneNumberFromString } from 'libphonenumber-js';

/**
 * Who sent an MO, as far as the SMSC's address says. Only an address that is provably an E.164 number can
 * match a contact; everything else (alphanumeric senders, short codes, national numbers without a region)
 * gets a label that starts with the TON, so it can never equal a contact's `+...` phone.
 */
export type SenderIdentity =
  | { verified: true; phone: string }
  | { verified: false; label: string; reason: SenderRejection };

export type SenderRejection = 'alphanumeric' | 'not_digits' | 'no_region' | 'not_a_number' | 'ton';

// SMPP 3.4 §5.2.5 addr_ton, §5.2.6 addr_npi
const TON_UNKNOWN = 0;
const TON_INTERNATIONAL = 1;
const TON_NATIONAL = 2;
const TON_ALPHANUMERIC = 5;
const NPI_UNKNOWN = 0;
const NPI_E164 = 1;

/** ITU-T E.164 §6: at most 15 digits, country code first (never 0). */
const E164_DIGITS = /^[1-9]\d{1,14}$/;

/**
 * `addr` as the SMSC sent it. TON 1 (international) digits are the full number. TON 0 (unknown) and
 * TON 2 (national) are read with `defaultRegion` (libphonenumber-js), and refused without one; TON 0 with an
 * explicit `+` is international. TON 5 (alphanumeric) and any address with other characters never match.
 */
export function senderIdentity(
  addr: string,
  ton: number,
  npi: number,
  defaultRegion?: CountryCode,
): SenderIdentity {
  const label = (reason: SenderRejection): SenderIdentity => ({
    verified: false,
    label: `ton${ton}:${addr.slice(0, 21)}`,
    reason,
  });
  if (ton === TON_ALPHANUMERIC) return label('alphanumeric');
  if (ton !== TON_UNKNOWN && ton !== TON_INTERNATIONAL && ton !== TON_NATIONAL) return label('ton');
  if (npi !== NPI_UNKNOWN && npi !== NPI_E164) return label('ton');
  const plus = addr.startsWith('+');
  const digits = plus ? addr.slice(1) : addr;
  if (!/^\d+$/.test(digits)) return label('not_digits');
  if (ton === TON_INTERNATIONAL || (ton === TON_UNKNOWN && plus)) {
    return E164_DIGITS.test(digits) ? { verified: true, phone: `+${digits}` } : label('not_a_number');
  }
  if (plus) return label('not_digits');
  if (!defaultRegion) return label('no_region');
  const parsed = parsePhoneNumberFromString(digits, { defaultCountry: defaultRegion });
  if (!parsed?.isPossible()) return label('not_a_number');
  return { verified: true, phone: parsed.number };
}

/** The `from` the rest of inbound uses: the E.164 number, or the label that matches no contact. */
export function senderKey(identity: SenderIdentity): string {
  return identity.verified ? identity.phone : identity.label;
}
