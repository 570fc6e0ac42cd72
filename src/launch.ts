#!/usr/bin/env -S node --heap-growing-percent=30
// `npm start` and the mqtt-sms-bridge command: the CLI from dist/bridge.cjs, one file run from a V8 code cache
// (dist/bridge.cjs.cache, written after the first start), which starts in about half the CPU time of loading
// the ~500 files of dist/ and node_modules one by one. Falls back to dist/cli.js when there is no bundle or
// it is older than the compiled files (a `tsc` without `npm run build`).
// --heap-growing-percent=30 (here and in package.json's start script; bench/lib/common.mjs reads it here): the old
// generation grows by 1.3x per full GC instead of V8's up to 4x for a small heap, so that the garbage of 10,000
// clients connecting is not kept committed: 245 -> 192 MB with them, no cost seen in ingest (BENCHMARKS.md).
import { statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type * as Bundled from './cli/bundled.js';
import { runBundle } from './cli/code-cache.js';

const bundle = fileURLToPath(new URL('./bridge.cjs', import.meta.url));
const compiled = fileURLToPath(new URL('./cli/main.js', import.meta.url));

function bundleIsCurrent(): boolean {
  try {
    return statSync(bundle).mtimeMs >= statSync(compiled).mtimeMs;
  } catch {
    return false;
  }
}

if (bundleIsCurrent()) {
  const { exports, saveCache } = runBundle<typeof Bundled>(bundle);
  exports.runCli(process.argv.slice(2), exports.processIo()).then(
    (code) => {
      if (code !== undefined) process.exitCode = code;
      // `start` resolves once the bridge runs: everything start-up compiled goes into the cache
      else if (process.argv[2] === 'start') saveCache();
    },
    (err: unknown) => {
      process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exitCode = 1;
    },
  );
} else {
  await import('./cli.js');
}
