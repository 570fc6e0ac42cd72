import { matchesArgPattern } from '../devices/arg-pattern.js';
import type { Device, DeviceCommand } from '../devices/registry.js';
import { type ArgSpec, PLACEHOLDER } from '../devices/schema.js';
import { operable, operatorsOf } from './operators.js';
import { type ParsedSms, parseSms } from './parse.js';
import {
  argUsage,
  commandList,
  echo,
  expected,
  helpText,
  label,
  list,
  oneSms,
  SEND_HELP,
} from './replies.js';

/** What authorisation needs to know about devices (the DeviceRegistry provides it). */
export interface DeviceDirectory {
  /** an id, an unambiguous display name, or a loose match of either */
  resolve(text: string): Device | undefined;
  all(): readonly Device[];
}

export interface AuthorizeContext {
  devices: DeviceDirectory;
  /** contact ids whose phone is this E.164 number */
  contactIdsForPhone(phone: string): readonly string[];
  /** contact ids of a group, nested groups resolved; `[]` for an id that is not a group */
  groupMembers(groupId: string): readonly string[];
  /** whether a contact is in a group (nested groups resolved); defaults to a search of `groupMembers` */
  inGroup?(groupId: string, contactId: string): boolean;
  /** per-contact PINs; a contact listed here must send its PIN with every command, STATUS and ACK */
  pins?: ReadonlyMap<string, string>;
}

export type ArgValue = string | number;

export type Refusal =
  | 'invalid'
  | 'unknown_sender'
  | 'unknown_device'
  | 'not_operator'
  | 'pin_required'
  | 'pin_wrong'
  /** too many wrong PINs from this number lately (see `InboundGuard`) */
  | 'pin_locked'
  | 'unknown_command'
  | 'bad_argument';

export type Decision =
  | {
      kind: 'command';
      device: Device;
      /** the command name as the device file writes it */
      command: string;
      /** by argument name; numbers are numbers, enum values as the device file writes them */
      args: Record<string, ArgValue>;
      /** the command's payload with `{{args.x}}` filled in */
      payload: Record<string, unknown>;
      /** the sender's contacts that are operators of the device */
      contactIds: string[];
      /** for the sender once the command is published */
      reply: string;
    }
  | { kind: 'status'; device: Device; contactIds: string[] }
  | { kind: 'ack'; ref: string; contactIds: string[] }
  | { kind: 'help'; reply: string }
  | { kind: 'refused'; reason: Refusal; reply: string; device?: Device };

/** Parses and authorises one SMS text; device names are resolved through the registry. */
export function decide(text: string, sender: string, ctx: AuthorizeContext): Decision {
  const parsed = parseSms(text, { isDevice: (words) => ctx.devices.resolve(words) !== undefined });
  return authorize(parsed, sender, ctx);
}

/**
 * Who may do what: the sender (E.164) must be a contact; for a device, one of its operators (directly or
 * through a group), with the contact's PIN when it has one; the command and its arguments must fit the
 * device type. Refusals carry a reply that fits one plain SMS. Checks run in an order that tells a
 * stranger nothing about a device's commands.
 */
export function authorize(parsed: ParsedSms, sender: string, ctx: AuthorizeContext): Decision {
  const contacts = [...ctx.contactIdsForPhone(sender)];
  // HELP too: a stranger learns nothing, and the inbound service sends strangers no reply at all.
  if (contacts.length === 0) {
    return refuse('unknown_sender', 'This number may not send commands to the SMS bridge.');
  }
  if (parsed.kind === 'help') return { kind: 'help', reply: helpText(sender, ctx, parsed.device) };
  if (parsed.kind === 'invalid') return refuseInvalid(parsed, contacts, ctx);

  if (parsed.kind === 'ack') {
    const pin = checkPin(contacts, parsed.pin, ctx, `ACK ${parsed.ref}`);
    return pin ?? { kind: 'ack', ref: parsed.ref, contactIds: contacts };
  }

  const device = ctx.devices.resolve(parsed.device);
  if (!device) {
    const mine = operable(contacts, ctx).map(label);
    const hint = mine.length > 0 ? `Your devices: ${list(mine)}` : SEND_HELP;
    return refuse('unknown_device', `Unknown device '${echo(parsed.device)}'. ${hint}`);
  }
  const operators = operatorsOf(device, contacts, ctx);
  const name = label(device);
  if (operators.length === 0) return refuse('not_operator', `You may not use ${name}.`, device);
  const example =
    parsed.kind === 'status' ? `STATUS ${name}` : [name, parsed.command, ...parsed.args].map(echo).join(' ');
  const pinRefusal = checkPin(operators, parsed.pin, ctx, example, device);
  if (pinRefusal) return pinRefusal;
  if (parsed.kind === 'status') return { kind: 'status', device, contactIds: operators };

  const command = device.commands.get(parsed.command.toLowerCase());
  if (!command) {
    return refuse(
      'unknown_command',
      `${name}: unknown command '${echo(parsed.command)}'. Try: ${commandList(device)}`,
      device,
    );
  }
  const typed = typeArgs(command, parsed.args);
  if (typeof typed === 'string') {
    return refuse('bad_argument', `${name} ${command.name.toUpperCase()}: ${typed}`, device);
  }
  const values = command.args.map((a) => String(typed[a.name]).toUpperCase());
  const shown = [name, command.name.toUpperCase(), ...values].join(' ');
  return {
    kind: 'command',
    device,
    command: command.name,
    args: typed,
    payload: fill(command.payload, typed) as Record<string, unknown>,
    contactIds: operators,
    reply: oneSms(`${shown} sent.`),
  };
}

function refuseInvalid(
  parsed: Extract<ParsedSms, { kind: 'invalid' }>,
  contacts: readonly string[],
  ctx: AuthorizeContext,
): Decision {
  if (parsed.code === 'no_command' && parsed.device !== undefined) {
    const device = ctx.devices.resolve(parsed.device);
    if (device && operatorsOf(device, contacts, ctx).length > 0) {
      return refuse('invalid', `${label(device)}: which command? Try: ${commandList(device)}`, device);
    }
    return refuse('invalid', `Not understood: '${echo(parsed.device)}'. ${SEND_HELP}`);
  }
  return refuse('invalid', `${parsed.reason} ${SEND_HELP}`);
}

function refuse(reason: Refusal, text: string, device?: Device): Decision {
  const reply = oneSms(text);
  return device ? { kind: 'refused', reason, reply, device } : { kind: 'refused', reason, reply };
}

/**
 * A PIN is needed when any of the contacts has one (a number shared by two contacts is held to the
 * stricter); any of their PINs is accepted.
 */
function checkPin(
  contacts: readonly string[],
  pin: string | undefined,
  ctx: AuthorizeContext,
  example: string,
  device?: Device,
): Decision | undefined {
  const pins = contacts.map((c) => ctx.pins?.get(c)).filter((p): p is string => p !== undefined);
  if (pins.length === 0) return undefined;
  if (pin === undefined) return refuse('pin_required', `PIN needed: send PIN <your PIN> ${example}`, device);
  return pins.includes(pin) ? undefined : refuse('pin_wrong', 'Wrong PIN. Nothing was done.', device);
}

/** Typed arguments, or why they do not fit (a phrase for the reply). */
function typeArgs(command: DeviceCommand, words: readonly string[]): Record<string, ArgValue> | string {
  const usage = `send ${[command.name.toUpperCase(), ...command.args.map(argUsage)].join(' ')}`;
  if (words.length !== command.args.length) {
    return words.length < command.args.length ? usage : `too many words; ${usage}`;
  }
  const out: Record<string, ArgValue> = {};
  for (const [i, spec] of command.args.entries()) {
    const word = words[i]!;
    const value = typeArg(spec, word);
    if (value === undefined) return `'${echo(word)}' is not ${expected(spec)}`;
    out[spec.name] = value;
  }
  return out;
}

function typeArg(spec: ArgSpec, word: string): ArgValue | undefined {
  switch (spec.type) {
    case 'number': {
      if (!/^[+-]?\d+(?:[.,]\d+)?$/.test(word)) return undefined;
      const n = Number(word.replace(',', '.'));
      if (spec.integer && !Number.isInteger(n)) return undefined;
      if ((spec.min !== undefined && n < spec.min) || (spec.max !== undefined && n > spec.max))
        return undefined;
      return n;
    }
    case 'enum':
      return spec.values.find((v) => String(v).toLowerCase() === word.toLowerCase());
    case 'string':
      if (word.length > spec.max_length) return undefined;
      if (spec.pattern !== undefined && !matchesArgPattern(spec.pattern, word)) return undefined;
      return word;
  }
}

/** The payload with `{{args.x}}` filled in; a string that is only a placeholder takes the argument's type. */
function fill(value: unknown, args: Record<string, ArgValue>): unknown {
  if (typeof value === 'string') {
    const whole = /^\{\{\s*args\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}$/.exec(value);
    if (whole) return args[whole[1]!];
    return value.replace(PLACEHOLDER, (match: string, inner: string) => {
      const ref = /^args\.([A-Za-z_][A-Za-z0-9_]*)$/.exec(inner);
      const arg = ref ? args[ref[1]!] : undefined;
      return arg === undefined ? match : String(arg);
    });
  }
  if (Array.isArray(value)) return value.map((item) => fill(item, args));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, fill(v, args)]));
  }
  return value;
}
