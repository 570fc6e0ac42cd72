import type { Device } from '../devices/registry.js';
import type { AuthorizeContext } from './authorize.js';

/** The sender's contacts that may use `device`: listed as operators themselves or through a group. */
export function operatorsOf(device: Device, contacts: readonly string[], ctx: AuthorizeContext): string[] {
  // the sender's contacts are one or two, a group may hold thousands: ask per contact, not per member
  const inGroup = ctx.inGroup ?? ((group: string, id: string) => ctx.groupMembers(group).includes(id));
  return contacts.filter((c) => device.operators.some((op) => op === c || inGroup(op, c)));
}

export function operable(contacts: readonly string[], ctx: AuthorizeContext): Device[] {
  return ctx.devices.all().filter((d) => operatorsOf(d, contacts, ctx).length > 0);
}
