import { describe, expect, it } from 'vitest';
import { Directory, findGroupCycles, normalizePhone } from '../../../src/rules/recipients.js';

describe('normalizePhone', () => {
  it.each([
    ['+44 7700 900001', undefined, '+447700900001'],
    ['+447700900001', undefined, '+447700900001'],
    ['+44 (0)7700 900001', undefined, '+447700900001'],
    ['+1 202-555-0100', undefined, '+12025550100'],
    ['07700 900001', 'GB', '+447700900001'],
    ['+33 6 12 34 56 78', 'GB', '+33612345678'],
  ] as const)('%s (default country %s) -> %s', (text, country, phone) => {
    expect(normalizePhone(text, country)).toEqual({ phone });
  });

  it.each([
    ['+44 123', undefined],
    ['07700 900001', undefined],
    ['call alice', undefined],
    ['+44 7700 900001 ext. 5', undefined],
    ['+4477009000011234', undefined],
    ['', 'GB'],
  ] as const)('rejects %j (default country %s)', (text, country) => {
    expect(normalizePhone(text, country).error).toMatch(/^expected .*phone number/);
  });
});

describe('findGroupCycles', () => {
  it.each([
    [{ a: ['x'], b: ['a'] }, []],
    [{ a: ['a'] }, [['a', 'a']]],
    [{ a: ['b'], b: ['c'], c: ['a'] }, [['a', 'b', 'c', 'a']]],
    [
      { a: ['b'], b: ['a'], c: ['c'] },
      [
        ['a', 'b', 'a'],
        ['c', 'c'],
      ],
    ],
  ])('%j -> %j', (groups, cycles) => {
    expect(findGroupCycles(new Map(Object.entries(groups)))).toEqual(cycles);
  });
});

describe('Directory', () => {
  const dir = new Directory(
    new Map([
      ['a', { id: 'a', phone: '+447700900001' }],
      ['b', { id: 'b', phone: '+447700900002' }],
    ]),
    new Map([
      ['g1', ['a']],
      ['g2', ['g1', 'b', 'a']],
      ['loop', ['loop', 'b']],
    ]),
  );

  it('flattens nested groups without visiting a group twice', () => {
    expect(dir.resolve(['g2']).map((r) => r.contactId)).toEqual(['a', 'b']);
    expect(dir.resolve(['loop']).map((r) => r.contactId)).toEqual(['b']);
    expect(dir.groups.get('g2')?.length).toBe(2);
  });

  it('knows which groups hold a phone', () => {
    expect(dir.groupsOfPhone('+447700900002')).toEqual(['g2', 'loop']);
    expect(dir.groupsOfPhone('+447700900009')).toEqual([]);
  });
});
