#!/usr/bin/env -S node --heap-growing-percent=60
// `npm start` and the mqtt-sms-bridge command: the CLI from dist/bridge.cjs, one file run from a V8 code cache
// (dist/bridge.cjs.cache, written after the first start), which starts in about half the CPU time of loading
// the ~500 files of dist/ and node_modules one by one. Falls back to dist/cli.js when there is no bundle or
// it is older than the compiled files (a `tsc` without `npm run build`).
// --heap-growing-percent=60 (here, in package.json's start script and the Dockerfile; bench/lib/common.mjs reads it
// here): the old generation grows by 1.6x per full GC instead of V8's up to 4x for a small heap, so that the
// garbage of 10,000 clients connecting is not kept committed (RSS 1.25x bare aedes without it, 1.05x with it). 30
// gave 1.00x but cost 1.2x CPU per SMS in an alert storm that keeps 20,000 alerts open (more full GCs as the heap
// grows); 60 costs ~1.1x there (BENCHMARKS.md, "The heap's growth, chosen").
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
