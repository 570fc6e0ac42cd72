import type { Device } from '../devices/registry.js';
import type { ArgSpec } from '../devices/schema.js';
import { gsmSeptets } from '../smpp/encoding.js';
import type { AuthorizeContext } from './authorize.js';
import { operable, operatorsOf } from './operators.js';

/** Longest reply: one GSM 03.38 SMS. */
export const MAX_REPLY = 160;
const MAX_ECHO = 20;
export const SEND_HELP = 'Send HELP for what you can do.';

/** What this sender may do, for HELP; about one device when `deviceText` names one they may use. */
export function helpText(sender: string, ctx: AuthorizeContext, deviceText?: string): string {
  const contacts = [...ctx.contactIdsForPhone(sender)];
  if (contacts.length === 0) return oneSms('This number is not registered with the SMS bridge.');
  const device = deviceText === undefined ? undefined : ctx.devices.resolve(deviceText);
  const pinNote = contacts.some((c) => ctx.pins?.has(c)) ? ' Start with PIN <your PIN>.' : '';
  if (device && operatorsOf(device, contacts, ctx).length > 0) {
    const named = device.name === device.id ? label(device) : `${label(device)} (${device.name})`;
    return oneSms(
      `${named}: ${commandList(device)}, STATUS. E.g. ${label(device)} ${firstUsage(device)}.${pinNote}`,
    );
  }
  const mine = operable(contacts, ctx).map(label);
  if (mine.length === 0) return oneSms(`Reply ACK <ref> to acknowledge an alert.${pinNote}`);
  return oneSms(
    `Send <DEVICE> <COMMAND>, STATUS <DEVICE>, ACK <ref>, HELP <DEVICE>. Your devices: ${list(mine)}.${pinNote}`,
  );
}

/** The text as one GSM 03.38 SMS: characters outside the alphabet become `?`, and it is cut at 160 septets. */
export function oneSms(text: string, max = MAX_REPLY): string {
  let out = '';
  let septets = 0;
  const chars = [...text].map((c) => (c.length === 1 && gsmSeptets(c) > 0 ? c : '?'));
  const total = chars.reduce((n, c) => n + gsmSeptets(c), 0);
  if (total <= max) return chars.join('');
  for (const c of chars) {
    const size = gsmSeptets(c);
    if (septets + size > max - 3) break;
    out += c;
    septets += size;
  }
  return `${out.trimEnd()}...`;
}

/** What a valid value looks like, for "'X' is not …". */
export function expected(spec: ArgSpec): string {
  switch (spec.type) {
    case 'number': {
      const kind = spec.integer ? 'a whole number' : 'a number';
      if (spec.min !== undefined && spec.max !== undefined) return `${kind} from ${spec.min} to ${spec.max}`;
      if (spec.min !== undefined) return `${kind} of at least ${spec.min}`;
      if (spec.max !== undefined) return `${kind} of at most ${spec.max}`;
      return kind;
    }
    case 'enum':
      return `one of ${spec.values.map((v) => String(v).toUpperCase()).join(', ')}`;
    case 'string':
      return `a valid ${spec.name.toUpperCase()}`;
  }
}

/** How a usage line shows an argument: its range, its choices or its name. */
export function argUsage(spec: ArgSpec): string {
  switch (spec.type) {
    case 'number':
      if (spec.min !== undefined && spec.max !== undefined) {
        return spec.min < 0 ? `<${spec.min} to ${spec.max}>` : `<${spec.min}-${spec.max}>`;
      }
      return `<${spec.name}>`;
    case 'enum':
      return `<${spec.values.map((v) => String(v).toUpperCase()).join('/')}>`;
    case 'string':
      return `<${spec.name}>`;
  }
}

export function commandList(device: Device): string {
  const items = [...device.commands.values()].map((c) =>
    [c.name.toUpperCase(), ...c.args.map(argUsage)].join(' '),
  );
  return items.length > 0 ? items.join(', ') : '(none)';
}

function firstUsage(device: Device): string {
  const first = [...device.commands.values()][0];
  return first ? first.name.toUpperCase() : 'STATUS';
}

export function label(device: Device): string {
  return device.id.toUpperCase();
}

export function list(items: readonly string[], max = 8): string {
  return items.length <= max
    ? items.join(', ')
    : `${items.slice(0, max).join(', ')} +${items.length - max} more`;
}

/** The user's own word, short and GSM-safe, for quoting back. */
export function echo(word: string): string {
  const upper = word.toUpperCase();
  return upper.length > MAX_ECHO ? `${upper.slice(0, MAX_ECHO - 3)}...` : upper;
}
