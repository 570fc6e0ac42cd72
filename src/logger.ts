import pino, { type Logger } from 'pino';

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

const PHONE_KEYS = ['to', 'from', 'phone', 'source_addr', 'destination_addr'];

export function createLogger(options: LoggerOptions = {}, destination?: pino.DestinationStream): Logger {
  const pretty = options.pretty ?? (process.stdout.isTTY === true && destination === undefined);
  const base: pino.LoggerOptions = {
    level: options.level ?? 'info',
    redact: { paths: ['password', '*.password', 'password_hash', '*.password_hash'], censor: '[redacted]' },
    formatters: options.showPhoneNumbers
      ? {}
      : {
          log(object) {
            for (const key of PHONE_KEYS) {
              const value = object[key];
              if (typeof value === 'string' && /^\+?\d{6,}$/.test(value)) object[key] = maskPhone(value);
            }
            return object;
          },
        },
  };
  if (destination) return pino(base, destination);
  if (pretty) {
    return pino({
      ...base,
      transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'HH:MM:ss.l' } },
    });
  }
  return pino(base);
}

/** A silent logger for tests and tools. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
