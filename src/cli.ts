#!/usr/bin/env node
import { processIo } from './cli/io.js';
import { runCli } from './cli/main.js';

runCli(process.argv.slice(2), processIo()).then(
  (code) => {
    if (code !== undefined) process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  },
);
