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

/**
 * The last string masked and its masked form: a line per SMS state names the same few recipients again and
 * again, and the test costs two regular expressions and a string each time. One entry.
 */
let lastPhone: string | undefined;
let lastMasked: string | undefined;

/** Masks a phone number, or each one in a list; anything else (an alphanumeric sender, a count) is kept. */
function maskPhones(value: unknown): unknown {
  if (typeof value === 'string') {
    if (value !== lastPhone) {
      lastMasked = phoneLike(value) ? maskPhone(value) : value;
      lastPhone = value;
    }
    return lastMasked;
  }
  if (Array.isArray(value)) return value.map(maskPhones);
  return value;
}

/** Keys whose values never reach a log line, at the top of a log object or a binding, or one level down. */
export const SECRET_KEYS = ['password', 'password_hash'];
const REDACTED = '[redacted]';
const redacted = (): string => REDACTED;

/**
 * `formatters.log`: a secret one level down (`{ account: { password_hash } }`) is replaced in a copy of its
 * parent; the caller's objects are left alone. The top level is the serializers' (they see bindings too).
 * pino's own `redact` did this with a clone of every log object: 2.5 us and ~4 KB of garbage per line, and a
 * bridge logs three lines per SMS (BENCHMARKS.md, "Logging"). Not covered: a secret nested in a child's bindings
 * (ours bind module names, connection ids and phone numbers).
 */
function redactNested(obj: Record<string, unknown>): Record<string, unknown> {
  let out: Record<string, unknown> | undefined;
  for (const key in obj) {
    const value = obj[key];
    if (value === null || typeof value !== 'object' || Array.isArray(value)) continue;
    const inner = value as Record<string, unknown>;
    let copy: Record<string, unknown> | undefined;
    for (const secret of SECRET_KEYS) {
      if (!(secret in inner)) continue;
      // an Error keeps its message and stack through its prototype (pino's err serializer reads them)
      copy ??= value instanceof Error ? Object.create(value) : { ...inner };
      (copy as Record<string, unknown>)[secret] = REDACTED;
    }
    if (copy) {
      out ??= { ...obj };
      out[key] = copy;
    }
  }
  return out ?? obj;
}

export function createLogger(options: LoggerOptions = {}, destination?: pino.DestinationStream): Logger {
  const pretty = options.pretty ?? (process.stdout.isTTY === true && destination === undefined);
  const secrets = Object.fromEntries(SECRET_KEYS.map((key) => [key, redacted]));
  const base: pino.LoggerOptions = {
    level: options.level ?? 'info',
    // Serializers, not formatters, for the top level: pino 10 runs a child's bindings through the serializers
    // of their keys (lib/tools.js asChindings) but never through formatters.log, and formatters.bindings only
    // sees the root's pid and hostname (lib/proto.js child() resets it for every child).
    serializers: options.showPhoneNumbers
      ? secrets
      : { ...Object.fromEntries(PHONE_KEYS.map((key) => [key, maskPhones])), ...secrets },
    formatters: { log: redactNested },
  };
  if (destination) return pino(base, destination);
  if (pretty) {
    // In this thread, not as a pino transport: a transport starts a worker thread (its own isolate) and finds
    // its worker file next to pino's, which is not there when pino is bundled (dist/bridge.cjs).
    // Loaded only for a terminal.
    const prettyStream = createRequire(import.meta.url)('pino-pretty') as typeof PinoPretty;
    return pino(base, prettyStream({ colorize: true, translateTime: 'HH:MM:ss.l', sync: true }));
  }
  return pino(base, logDestination(process.stdout.fd ?? 1));
}

/** Characters of log lines gathered into one write (and sonic-boom's `maxWrite`). sonic-boom's default is 16 KiB. */
export const LOG_WRITE_BYTES = 64 * 1024;
/** How long a log line may wait to be gathered with the next ones into one write. */
export const LOG_GATHER_MS = 20;
/** Bytes of log lines waiting for a stdout that does not drain; lines past it are dropped, not buffered. */
export const LOG_BUFFER_BYTES = 16 * 1024 * 1024;

/**
 * Where lines go: pino's asynchronous destination (sonic-boom, flushed at exit), as pino's default, handed
 * the lines of up to LOG_GATHER_MS at a time (`gatherLines`). Each asynchronous write costs a round trip through
 * libuv's thread pool, 50-80 us of CPU on the 2-core VM of BENCHMARKS.md against 4 us for the write itself
 * (issue 14, session 9): one per turn of the event loop was ~2,000 writes per 20,000 SMS. In buffer mode: the
 * lines are UTF-8 outside the JS heap from the moment they are gathered (see `gatherLines`).
 */
export function logDestination(dest: number | string): pino.DestinationStream {
  const stream = pino.destination({
    dest,
    maxWrite: LOG_WRITE_BYTES,
    maxLength: LOG_BUFFER_BYTES,
    contentMode: 'buffer',
  });
  gatherLines(stream as unknown as Gathered);
  let dropping = false;
  stream.on('drop', () => {
    if (dropping) return;
    dropping = true;
    process.stderr.write(`log: ${LOG_BUFFER_BYTES} bytes of log lines not yet written; dropping lines\n`);
    stream.once('drain', () => {
      dropping = false;
    });
  });
  return stream;
}

/** The parts of sonic-boom (in buffer mode) that `gatherLines` wraps; pino writes strings. */
interface Gathered {
  /** sonic-boom starts a write when what waits reaches this (0: at once) */
  minLength: number;
  write(data: string | Buffer): boolean;
  flush(cb?: (err?: Error) => void): void;
  flushSync(): void;
  end(): void;
}

/**
 * Hands sonic-boom the lines of up to LOG_GATHER_MS as one Buffer of at most LOG_WRITE_BYTES, each line written
 * into it as UTF-8 when it comes, not line by line: sonic-boom starts a write (a thread-pool round trip) whenever
 * none is in progress. In a burst the writes fall behind (issue 14: ~1 MB of lines waiting at the peak of
 * benchmark 2); as strings, those lines were copied by each scavenge and promoted, and sonic-boom's string mode
 * encodes each chunk twice (`fs.write`, then `Buffer.from` to cut what was written). A Buffer's bytes are outside
 * the heap: the scavenger copies nothing of them. `flush`, `flushSync` and `end` (pino's exit handler and
 * `logger.flush`) hand over what is gathered first, so no line waits behind them. At most LOG_WRITE_BYTES wait
 * here. The timer does not keep the process alive (the exit handler hands the lines over).
 */
function gatherLines(stream: Gathered): void {
  const write = stream.write.bind(stream);
  let chunk: Buffer | undefined;
  let used = 0;
  let timer: NodeJS.Timeout | undefined;
  const handOver = (): void => {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    if (chunk === undefined) return;
    const full = chunk.subarray(0, used);
    chunk = undefined;
    used = 0;
    write(full);
  };
  stream.write = (line: string | Buffer): boolean => {
    if (typeof line !== 'string') {
      handOver();
      return write(line);
    }
    // a UTF-16 code unit is at most 3 bytes of UTF-8: what cannot be sure to fit goes in the next chunk
    const most = line.length * 3;
    if (chunk !== undefined && used + most > chunk.length) handOver();
    if (chunk === undefined) {
      chunk = Buffer.allocUnsafe(most <= LOG_WRITE_BYTES ? LOG_WRITE_BYTES : Buffer.byteLength(line, 'utf8'));
      timer = setTimeout(handOver, LOG_GATHER_MS);
      timer.unref();
    }
    used += chunk.write(line, used);
    return true;
  };
  for (const name of ['flush', 'end'] as const) {
    const original = stream[name].bind(stream) as (...args: unknown[]) => void;
    stream[name] = (...args: unknown[]) => {
      handOver();
      original(...args);
    };
  }
  // pino's exit handler: the gathered lines must be written before it returns. Handed over as above, they would
  // start an asynchronous write when none is in progress, and sonic-boom's flushSync writes only what is queued
  // behind one: the last lines before an exit would race the process's end. With `minLength` out of reach for the
  // hand-over, sonic-boom queues them (`write`), and its flushSync writes them with the rest.
  const flushSync = stream.flushSync.bind(stream);
  stream.flushSync = () => {
    const minLength = stream.minLength;
    stream.minLength = Number.POSITIVE_INFINITY;
    try {
      handOver();
    } finally {
      stream.minLength = minLength;
    }
    flushSync();
  };
}

/** A silent logger for tests and tools. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
