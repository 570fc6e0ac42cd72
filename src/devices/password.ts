import { randomBytes, type ScryptOptions, scrypt, timingSafeEqual } from 'node:crypto';
import { BridgeError } from '../errors.js';

/**
 * Password hashes as written in `devices/*.yaml` and `config/bridge.yaml`:
 * `scrypt:N:r:p:saltB64:hashB64` (RFC 7914 parameters, standard base64). `hashPassword` writes them,
 * `verifyPassword` checks a password against one. Never a plain password.
 */

export interface ScryptParams {
  /** CPU/memory cost, a power of two. Default `16384` (2^14, about 16 MiB and 50 ms per check). */
  N: number;
  /** Block size. Default `8`. */
  r: number;
  /** Parallelism. Default `1`. */
  p: number;
}

export interface ParsedPasswordHash extends ScryptParams {
  salt: Buffer;
  hash: Buffer;
}

export const DEFAULT_SCRYPT: Readonly<ScryptParams> = { N: 16_384, r: 8, p: 1 };

const SALT_BYTES = 16;
const KEY_BYTES = 32;
// Bounds keep a hostile or mistyped file from making each login cost seconds or gigabytes.
const MAX_N = 2 ** 20;
const MAX_R = 32;
const MAX_P = 16;
const MAX_MEMORY = 256 * 1024 * 1024;
const B64 = /^[A-Za-z0-9+/]+={0,2}$/;

/** A new `scrypt:...` hash of `plain`, with a random salt. */
export async function hashPassword(plain: string, params: ScryptParams = DEFAULT_SCRYPT): Promise<string> {
  if (plain.length === 0) throw new BridgeError('ERR_CONFIG_INVALID', 'a password must not be empty');
  const problem = checkParams(params);
  if (problem) throw new BridgeError('ERR_CONFIG_INVALID', `bad scrypt parameters: ${problem}`);
  const salt = randomBytes(SALT_BYTES);
  const hash = await derive(Buffer.from(plain, 'utf8'), salt, KEY_BYTES, params);
  return `scrypt:${params.N}:${params.r}:${params.p}:${salt.toString('base64')}:${hash.toString('base64')}`;
}

/**
 * True when `plain` (a string, or the raw bytes of an MQTT password) matches `hash`. A malformed hash is
 * never a match; this never throws for bad input.
 */
export async function verifyPassword(hash: string, plain: string | Buffer): Promise<boolean> {
  const parsed = parsePasswordHash(hash);
  if (!('salt' in parsed)) return false;
  const bytes = typeof plain === 'string' ? Buffer.from(plain, 'utf8') : plain;
  try {
    const derived = await derive(bytes, parsed.salt, parsed.hash.length, parsed);
    return timingSafeEqual(derived, parsed.hash);
  } catch {
    return false;
  }
}

/** The parts of a `scrypt:` hash, or what is wrong with it (a sentence for a file issue). */
export function parsePasswordHash(text: string): ParsedPasswordHash | { error: string } {
  if (!text.startsWith('scrypt:')) {
    if (/^\$argon2/.test(text)) {
      return { error: 'argon2 hashes need Node 24; use a scrypt hash from `mqtt-sms-bridge hash-password`' };
    }
    if (text.startsWith('$')) return { error: 'unsupported hash; use `mqtt-sms-bridge hash-password`' };
    return {
      error:
        'expected a password hash (scrypt:N:r:p:salt:hash), not a plain password; make one with `mqtt-sms-bridge hash-password`',
    };
  }
  const parts = text.split(':');
  if (parts.length !== 6) return { error: 'expected scrypt:N:r:p:salt:hash' };
  const [, n, r, p, salt, hash] = parts as [string, string, string, string, string, string];
  const params = { N: toInt(n), r: toInt(r), p: toInt(p) };
  const problem = checkParams(params);
  if (problem) return { error: problem };
  if (!B64.test(salt) || !B64.test(hash)) return { error: 'salt and hash must be base64' };
  const saltBytes = Buffer.from(salt, 'base64');
  const hashBytes = Buffer.from(hash, 'base64');
  if (saltBytes.length < 8) return { error: 'salt must be at least 8 bytes' };
  if (hashBytes.length < 16 || hashBytes.length > 128) return { error: 'hash must be 16 to 128 bytes' };
  return { ...params, salt: saltBytes, hash: hashBytes };
}

/** Undefined when `text` is a usable hash, else why not. For schemas that hold hashes. */
export function passwordHashProblem(text: string): string | undefined {
  const parsed = parsePasswordHash(text);
  return 'error' in parsed ? parsed.error : undefined;
}

function checkParams({ N, r, p }: ScryptParams): string | undefined {
  if (!Number.isInteger(N) || N < 2 || N > MAX_N || (N & (N - 1)) !== 0) {
    return `N must be a power of two from 2 to ${MAX_N}`;
  }
  if (!Number.isInteger(r) || r < 1 || r > MAX_R) return `r must be 1 to ${MAX_R}`;
  if (!Number.isInteger(p) || p < 1 || p > MAX_P) return `p must be 1 to ${MAX_P}`;
  if (128 * N * r > MAX_MEMORY) return 'N*r too large: a check would need more than 256 MiB';
  return undefined;
}

function toInt(text: string): number {
  return /^\d{1,8}$/.test(text) ? Number(text) : Number.NaN;
}

function derive(password: Buffer, salt: Buffer, length: number, { N, r, p }: ScryptParams): Promise<Buffer> {
  // Node refuses when 128*N*r exceeds maxmem (default 32 MiB); allow what the parameters need.
  const options: ScryptOptions = { N, r, p, maxmem: 128 * N * r + 1024 * 1024 };
  return new Promise((resolve, reject) => {
    scrypt(password, salt, length, options, (err, key) => (err ? reject(err) : resolve(key)));
  });
}
