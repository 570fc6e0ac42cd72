import { type CountryCode, parsePhoneNumberFromString } from 'libphonenumber-js';

export interface Contact {
  id: string;
  /** E.164, e.g. `+447700900001` */
  phone: string;
  name?: string | undefined;
  /** required with SMS commands when set */
  pin?: string | undefined;
}

export interface Recipient {
  contactId: string;
  phone: string;
  name?: string | undefined;
}

/**
 * A phone number in E.164, or why it is not one. Numbers are checked with `isPossible()` (right length for
 * the country) rather than `isValid()`, which also wants the range to be allocated: the metadata lags new
 * ranges and rejects the ranges set aside for tests and fiction (Ofcom's +44 7700 900xxx).
 */
export function normalizePhone(
  text: string,
  defaultCountry?: CountryCode,
): { phone: string; error?: undefined } | { phone?: undefined; error: string } {
  const hint = defaultCountry
    ? `expected a phone number like +447700900001 (or a national number in ${defaultCountry})`
    : 'expected an international phone number starting with + and the country code, like +447700900001';
  if (!/^\+?[\d\s().-]+$/.test(text)) return { error: `${hint}, got '${text}'` };
  const parsed = parsePhoneNumberFromString(text, defaultCountry ? { defaultCountry } : undefined);
  if (!parsed?.isPossible()) return { error: `${hint}, got '${text}'` };
  return { phone: parsed.number };
}

/** Contacts and groups, with groups resolved (recursively) to their contacts. */
export class Directory {
  private readonly resolvedGroups = new Map<string, Recipient[]>();

  constructor(
    readonly contacts: ReadonlyMap<string, Contact>,
    private readonly groupMembers: ReadonlyMap<string, readonly string[]>,
  ) {
    for (const id of groupMembers.keys()) this.resolvedGroups.set(id, this.resolve([id]));
  }

  /** Each group's contacts, deduplicated by phone. */
  get groups(): ReadonlyMap<string, readonly Recipient[]> {
    return this.resolvedGroups;
  }

  has(id: string): boolean {
    return this.contacts.has(id) || this.groupMembers.has(id);
  }

  /** Contacts named directly or through groups, deduplicated by phone (first one wins); unknown ids are skipped. */
  resolve(ids: readonly string[]): Recipient[] {
    const out: Recipient[] = [];
    const phones = new Set<string>();
    const visiting = new Set<string>();
    const visit = (id: string): void => {
      const contact = this.contacts.get(id);
      if (contact) {
        if (phones.has(contact.phone)) return;
        phones.add(contact.phone);
        out.push({ contactId: contact.id, phone: contact.phone, name: contact.name });
        return;
      }
      const members = this.groupMembers.get(id);
      if (!members || visiting.has(id)) return;
      visiting.add(id);
      for (const member of members) visit(member);
      visiting.delete(id);
    };
    for (const id of ids) visit(id);
    return out;
  }

  /** The contact with this phone (E.164), if any. */
  contactByPhone(phone: string): Contact | undefined {
    for (const contact of this.contacts.values()) if (contact.phone === phone) return contact;
    return undefined;
  }

  /** Ids of the groups that include this phone, directly or through nested groups. */
  groupsOfPhone(phone: string): string[] {
    const out: string[] = [];
    for (const [id, members] of this.resolvedGroups) if (members.some((m) => m.phone === phone)) out.push(id);
    return out;
  }
}

/** Every cycle among groups, each once, as the chain of ids that closes it (`a -> b -> a`). */
export function findGroupCycles(groups: ReadonlyMap<string, readonly string[]>): string[][] {
  const cycles: string[][] = [];
  const done = new Set<string>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const visit = (id: string): void => {
    if (onStack.has(id)) {
      cycles.push([...stack.slice(stack.indexOf(id)), id]);
      return;
    }
    if (done.has(id)) return;
    const members = groups.get(id);
    if (!members) return;
    stack.push(id);
    onStack.add(id);
    for (const member of members) visit(member);
    stack.pop();
    onStack.delete(id);
    done.add(id);
  };
  for (const id of groups.keys()) visit(id);
  return cycles;
}
