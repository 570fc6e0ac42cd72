#!/usr/bin/env node
// Writes schemas/*.schema.json from the zod schemas (run through `npm run schemas`, which builds first).
// `--check` writes nothing and exits 1 when a committed file differs from what the schemas generate.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { jsonSchemaFiles } from '../dist/config/json-schema.js';

const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'schemas');
const check = process.argv.includes('--check');
let stale = 0;
mkdirSync(dir, { recursive: true });
for (const { file, text } of jsonSchemaFiles()) {
  const target = path.join(dir, file);
  let current;
  try {
    current = readFileSync(target, 'utf8');
  } catch {
    current = undefined;
  }
  if (current === text) continue;
  if (check) {
    stale++;
    process.stderr.write(`schemas/${file} is out of date: run npm run schemas\n`);
  } else {
    writeFileSync(target, text);
    process.stdout.write(`wrote schemas/${file}\n`);
  }
}
process.exitCode = stale > 0 ? 1 : 0;
