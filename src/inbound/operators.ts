import type { Device } from '../devices/registry.js';
import type { AuthorizeContext } from './authorize.js';

/** The sender's contacts that may use `device`: listed as operators themselves or through a group. */
export function operatorsOf(device: Device, contacts: readonly string[], ctx: AuthorizeContext): string[] {
  const allowed = new Set<string>();
  for (const op of device.operators) {
    if (contacts.includes(op)) allowed.add(op);
    for (const member of ctx.groupMembers(op)) if (contacts.includes(member)) allowed.add(member);
  }
  return contacts.filter((c) => allowed.has(c));
}

export function operable(contacts: readonly string[], ctx: AuthorizeContext): Device[] {
  return ctx.devices.all().filter((d) => operatorsOf(d, contacts, ctx).length > 0);
}
