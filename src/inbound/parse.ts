/**
 * The grammar of SMS that field staff send, pure and case-insensitive:
 *
 *   <DEVICE> <COMMAND> [ARGS...]     PUMP-7 STOP, pump-7: setpoint 80
 *   <DEVICE> STATUS | STATUS <DEVICE>
 *   <DEVICE> HELP   | HELP [<DEVICE>] | ?
 *   ACK <ref>                        ACK 42, ack #42, ACK42
 *   any of them with `PIN 1234` first or last
 *
 * Phones add spaces, punctuation, autocorrected dashes, full-width characters and emoji; all are tolerated.
 * Words keep the case they were typed in (string arguments may care); keywords are matched ignoring case.
 */

export type ParsedSms =
  | { kind: 'command'; device: string; command: string; args: string[]; pin?: string }
  | { kind: 'ack'; ref: string; pin?: string }
  | { kind: 'status'; device: string; pin?: string }
  | { kind: 'help'; device?: string }
  | { kind: 'invalid'; code: InvalidCode; reason: string; device?: string };

export type InvalidCode =
  /** nothing but spaces */
  | 'empty'
  /** no letters or digits at all (emoji, punctuation) */
  | 'no_words'
  /** a device (or an unknown word) without a command */
  | 'no_command'
  | 'ack_without_ref'
  | 'status_without_device'
  /** `PIN` without 3 to 12 digits after it, or two PINs */
  | 'bad_pin';

export interface ParseOptions {
  /**
   * Whether some words name a device, so that multi-word display names work (`North field pump 7 STOP`).
   * Without it the device is the first word.
   */
  isDevice?: (words: string) => boolean;
}

/** The longest device name tried, in words. */
const MAX_NAME_WORDS = 6;
const PIN = /^\d{3,12}$/;
const GLUED_PIN = /^pin(\d{3,12})$/i;
const GLUED_ACK = /^ack#?(\d[\w-]*)$/i;

export function parseSms(text: string, options: ParseOptions = {}): ParsedSms {
  const trimmed = text.trim();
  if (trimmed.length === 0) return invalid('empty', 'The message was empty.');
  if (/^[?¿]+$/.test(trimmed)) return { kind: 'help' };
  const all = tokenize(trimmed);
  if (all.length === 0) return invalid('no_words', 'The message had no words.');

  const pinned = takePin(all);
  if ('code' in pinned) return pinned;
  const { words, pin } = pinned;
  const withPin = <T extends object>(parsed: T): T & { pin?: string } =>
    pin === undefined ? parsed : { ...parsed, pin };
  const [first, ...rest] = words;
  if (first === undefined) return invalid('no_command', 'A PIN alone does nothing.');
  const keyword = first.toLowerCase();

  if (keyword === 'help')
    return rest.length > 0 ? { kind: 'help', device: rest.join(' ') } : { kind: 'help' };
  if (keyword === 'ack') {
    const ref = rest[0];
    return ref === undefined
      ? invalid('ack_without_ref', 'ACK needs the alert number, e.g. ACK 42.')
      : withPin({ kind: 'ack', ref });
  }
  const glued = words.length === 1 ? GLUED_ACK.exec(first) : null;
  if (glued) return withPin({ kind: 'ack', ref: glued[1]! });
  if (keyword === 'status') {
    if (rest.length === 0)
      return invalid('status_without_device', 'STATUS needs a device, e.g. STATUS PUMP-7.');
    return withPin({ kind: 'status', device: rest.join(' ') });
  }

  const split = splitDevice(words, options.isDevice);
  const [command, ...args] = split.after;
  if (command === undefined) {
    return {
      ...invalid('no_command', `${split.device.toUpperCase()}: which command?`),
      device: split.device,
    };
  }
  const verb = command.toLowerCase();
  if (verb === 'status' && args.length === 0) return withPin({ kind: 'status', device: split.device });
  if (verb === 'help' && args.length === 0) return { kind: 'help', device: split.device };
  return withPin({ kind: 'command', device: split.device, command, args });
}

function invalid(code: InvalidCode, reason: string): Extract<ParsedSms, { kind: 'invalid' }> {
  return { kind: 'invalid', code, reason };
}

/** The device is the longest run of leading words `isDevice` accepts (leaving a command), else the first word. */
function splitDevice(
  words: string[],
  isDevice: ParseOptions['isDevice'],
): { device: string; after: string[] } {
  if (isDevice) {
    for (let n = Math.min(MAX_NAME_WORDS, words.length); n >= 2; n--) {
      const candidate = words.slice(0, n).join(' ');
      if (isDevice(candidate)) return { device: candidate, after: words.slice(n) };
    }
  }
  return { device: words[0]!, after: words.slice(1) };
}

/** Removes a leading or trailing `PIN 1234` (or `PIN1234`). */
function takePin(
  words: string[],
): { words: string[]; pin?: string } | Extract<ParsedSms, { kind: 'invalid' }> {
  const badPin = invalid('bad_pin', 'PIN must be followed by its digits, e.g. PIN 1234 PUMP-7 STOP.');
  let rest = words;
  let pin: string | undefined;
  const lead = pinAt(rest, 0);
  if (lead === 'bad') return badPin;
  if (lead) {
    pin = lead.pin;
    rest = rest.slice(lead.length);
  }
  const tail = rest.length > 0 ? pinAt(rest, -1) : undefined;
  if (tail === 'bad') return badPin;
  if (tail) {
    if (pin !== undefined) return { ...badPin, reason: 'Send the PIN once.' };
    pin = tail.pin;
    rest = rest.slice(0, rest.length - tail.length);
  }
  return pin === undefined ? { words: rest } : { words: rest, pin };
}

/** A PIN at the start (`at` 0) or end (`at` -1) of the words, 'bad' for `PIN` without digits. */
function pinAt(words: string[], at: 0 | -1): { pin: string; length: number } | 'bad' | undefined {
  const edge = at === 0 ? words[0] : words[words.length - 1];
  if (edge === undefined) return undefined;
  const glued = GLUED_PIN.exec(edge);
  if (glued) return { pin: glued[1]!, length: 1 };
  if (at === 0 && edge.toLowerCase() === 'pin') {
    const digits = words[1];
    return digits !== undefined && PIN.test(digits) ? { pin: digits, length: 2 } : 'bad';
  }
  if (at === -1 && PIN.test(edge) && words.length >= 2 && words[words.length - 2]!.toLowerCase() === 'pin') {
    return { pin: edge, length: 2 };
  }
  if (at === -1 && edge.toLowerCase() === 'pin') return 'bad';
  return undefined;
}

// Separators between words. A comma between digits stays (`80,5` is a decimal in much of the world).
const SEPARATORS = /[\s;:!?¡¿()[\]{}"'“”‘’«»<>*\\/|=~]+|,(?!\d)|(?<!\d),/u;
const DASHES = /[\u2010-\u2015\u2212\uFE58\uFE63\uFF0D]/g;
const ALNUM = /[\p{L}\p{N}]/u;

/** Words of the message with punctuation and emoji stripped from their edges; words with no letter or digit dropped. */
export function tokenize(text: string): string[] {
  const normal = text.normalize('NFKC').replace(DASHES, '-');
  const words: string[] = [];
  for (const raw of normal.split(SEPARATORS)) {
    const word = trimWord(raw);
    if (word) words.push(word);
  }
  return words;
}

function trimWord(raw: string): string {
  const chars = [...raw];
  let start = chars.findIndex((c) => ALNUM.test(c));
  if (start === -1) return '';
  let end = chars.length - 1;
  while (!ALNUM.test(chars[end]!)) end--;
  // Keep the sign of a number: -5, +3.
  const sign = chars[start - 1];
  if ((sign === '-' || sign === '+') && /\d/.test(chars[start]!)) start--;
  return chars.slice(start, end + 1).join('');
}
