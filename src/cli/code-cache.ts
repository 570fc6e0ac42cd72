import { createHash } from 'node:crypto';
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { Script } from 'node:vm';

/** A CommonJS bundle run from a V8 code cache when there is a good one (no parsing or compiling). */
export interface CachedBundle<T> {
  exports: T;
  /** whether the code cache was found, matched and accepted by V8 */
  cacheUsed: boolean;
  /**
   * Writes the code cache if there was none to use; call once the bundle has done its start-up work, so that
   * the functions it compiled on the way are in it. Never throws: a bundle directory that cannot be written
   * only costs the next start its compile.
   */
  saveCache(): void;
}

const MAGIC = 'mqtt-sms-bridge code cache 1\n';
const SUM_LENGTH = 64; // sha256, hex

/**
 * Runs `file` (CommonJS, ASCII only: scripts/bundle.mjs writes it so) as Node would, with the code cache in
 * `cacheFile`. The cache is keyed by the bundle's content, the Node version and the architecture, and carries
 * a checksum of its own: a stale, corrupt or foreign cache is ignored (and replaced by `saveCache()`), never
 * run. V8 also rejects data made by another V8 or with other flags (`cachedDataRejected`).
 */
export function runBundle<T>(file: string, cacheFile = `${file}.cache`): CachedBundle<T> {
  const bytes = readFileSync(file);
  const source = bytes.toString('latin1');
  const key = createHash('sha256')
    .update(bytes)
    .update(`\0${process.version}\0${process.arch}\0${process.execArgv.join(' ')}`)
    .digest('hex');
  const cachedData = readCache(cacheFile, key);
  const script = new Script(`(function (exports, require, module, __filename, __dirname) {${source}\n})`, {
    filename: file,
    ...(cachedData ? { cachedData } : {}),
  });
  const cacheUsed = cachedData !== undefined && script.cachedDataRejected !== true;
  const module = { exports: {} as T };
  (script.runInThisContext() as (...args: unknown[]) => void)(
    module.exports,
    createRequire(file),
    module,
    file,
    dirname(file),
  );
  let saved = cacheUsed;
  return {
    exports: module.exports,
    cacheUsed,
    saveCache() {
      if (saved) return;
      saved = true;
      try {
        writeCache(cacheFile, key, script.createCachedData());
      } catch {
        // read-only install, full disk: the next start compiles again
      }
    },
  };
}

function readCache(file: string, key: string): Buffer | undefined {
  let data: Buffer;
  try {
    data = readFileSync(file);
  } catch {
    return undefined;
  }
  const header = `${MAGIC}${key}\n`;
  const start = header.length + SUM_LENGTH + 1;
  if (data.length <= start || data.toString('latin1', 0, header.length) !== header) return undefined;
  const payload = data.subarray(start);
  const sum = createHash('sha256').update(payload).digest('hex');
  return data.toString('latin1', header.length, header.length + SUM_LENGTH) === sum ? payload : undefined;
}

function writeCache(file: string, key: string, payload: Buffer): void {
  const sum = createHash('sha256').update(payload).digest('hex');
  // written aside and renamed: a start that reads it meanwhile sees the old file or the new one, whole
  const temp = `${file}.${process.pid}.tmp`;
  try {
    writeFileSync(temp, Buffer.concat([Buffer.from(`${MAGIC}${key}\n${sum}\n`, 'latin1'), payload]));
    renameSync(temp, file);
  } finally {
    rmSync(temp, { force: true });
  }
}
