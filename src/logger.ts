import { createRequire } from 'node:module';
import pino, { type Logger } from 'pino';
import type PinoPretty from 'pino-pretty';

export type { Logger };

export interface LoggerOptions {
  /** pino level. Default `info`. */
  level?: string;
  /** Log full phone numbers. Default `false`: `+44770090****`. */
  showPhoneNumbers?: boolean;
  /** Pretty output; default: when stdout is a TTY. */
  pretty?: boolean;
}

/** Masks the last four digits of an E.164 number: `+447700900001` -> `+44770090****`. */
export function maskPhone(phone: string): string {
  if (phone.length <= 6) return '****';
  return `${phone.slice(0, -4)}****`;
}

/** Keys whose values are phone numbers, wherever they appear: a log call's object or a child's bindings. */
export const PHONE_KEYS = ['to', 'from', 'phone', 'sender', 'recipient', 'source_addr', 'destination_addr'];

/** digits, maybe a leading +, maybe written with spaces or dashes (`+44 7700 900001`), at least 6 digits */
function phoneLike(text: string): boolean {
  return /^\+?[\d\s().-]+$/.test(text) && text.replace(/\D/g, '').length >= 6;
}

/** Masks a phone number, or each one in a list; anything else (an alphanumeric sender, a count) is kept. */
function maskPhones(value: unknown): unknown {
  if (typeof value === 'string') return phoneLike(value) ? maskPhone(value) : value;
  if (Array.isArray(value)) return value.map(maskPhones);
  return value;
}

export function createLogger(options: LoggerOptions = {}, destination?: pino.DestinationStream): Logger {
  const pretty = options.pretty ?? (process.stdout.isTTY === true && destination === undefined);
  const base: pino.LoggerOptions = {
    level: options.level ?? 'info',
    redact: { paths: ['password', '*.password', 'password_hash', '*.password_hash'], censor: '[redacted]' },
    // Serializers, not formatters: pino 10 runs a child's bindings through the serializers of their keys
    // (lib/tools.js asChindings) but never through formatters.log, and formatters.bindings only sees the
    // root's pid and hostname (lib/proto.js child() resets it for every child).
    serializers: options.showPhoneNumbers
      ? {}
      : Object.fromEntries(PHONE_KEYS.map((key) => [key, maskPhones])),
  };
  if (destination) return pino(base, destination);
  if (pretty) {
    // In this thread, not as a pino transport: a transport starts a worker thread (its own isolate) and finds
    // its worker file next to pino's, which is not there when pino is bundled (dist/bridge.cjs).
    // Loaded only for a terminal.
    const prettyStream = createRequire(import.meta.url)('pino-pretty') as typeof PinoPretty;
    return pino(base, prettyStream({ colorize: true, translateTime: 'HH:MM:ss.l', sync: true }));
  }
  return pino(base);
}

/** A silent logger for tests and tools. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
