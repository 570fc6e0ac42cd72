import { describe, expect, it } from 'vitest';
import { senderIdentity, senderKey } from '../../../src/inbound/sender-id.js';

describe('senderIdentity', () => {
  it.each([
    // [addr, ton, npi, region, phone]
    ['447700900001', 1, 1, undefined, '+447700900001'],
    ['447700900001', 1, 0, undefined, '+447700900001'],
    ['+447700900001', 0, 1, undefined, '+447700900001'],
    ['07700900001', 2, 1, 'GB', '+447700900001'],
    ['7700900001', 2, 1, 'GB', '+447700900001'],
    ['447700900001', 0, 1, 'GB', '+447700900001'],
    ['015112345678', 2, 1, 'DE', '+4915112345678'],
  ] as const)('%s TON %i NPI %i (region %s) is %s', (addr, ton, npi, region, phone) => {
    expect(senderIdentity(addr, ton, npi, region)).toEqual({ verified: true, phone });
  });

  it.each([
    // attack 7: an alphanumeric sender whose digits spell a contact's number
    ['AL447700900001', 5, 0, 'GB', 'alphanumeric'],
    ['447700900001', 5, 0, 'GB', 'alphanumeric'],
    ['+447700900001', 5, 0, undefined, 'alphanumeric'],
    ['44-7700-900001', 1, 1, undefined, 'not_digits'],
    ['44 7700 900001', 0, 1, 'GB', 'not_digits'],
    // national or unknown-TON numbers mean nothing without a region
    ['07700900001', 2, 1, undefined, 'no_region'],
    ['447700900001', 0, 1, undefined, 'no_region'],
    ['+447700900001', 2, 1, 'GB', 'not_digits'],
    // network-specific, subscriber, abbreviated TONs; private NPI
    ['447700900001', 3, 1, 'GB', 'ton'],
    ['12345', 6, 1, 'GB', 'ton'],
    ['447700900001', 1, 9, undefined, 'ton'],
    ['0447700900001', 1, 1, undefined, 'not_a_number'],
    ['1234567890123456', 1, 1, undefined, 'not_a_number'],
    ['12', 2, 1, 'GB', 'not_a_number'],
  ] as const)('%s TON %i NPI %i (region %s) matches no contact: %s', (addr, ton, npi, region, reason) => {
    const id = senderIdentity(addr, ton, npi, region);
    expect(id).toMatchObject({ verified: false, reason });
    expect(senderKey(id)).not.toMatch(/^\+/);
    expect(senderKey(id).startsWith(`ton${ton}:`)).toBe(true);
  });
});
