// dist/bridge.cjs: dist/ bundled into one CommonJS file for `npm start` (src/launch.ts runs it with a V8 code
// cache). Run by `npm run build` after tsc. The native addon and the packages loaded only on demand by
// createRequire (pg, mqtt in external mode, yaml's fallback) stay in node_modules.
import { rmSync } from 'node:fs';
import { build } from 'rolldown';

const out = 'dist/bridge.cjs';
rmSync(`${out}.cache`, { force: true });
await build({
  input: 'dist/cli/bundled.js',
  platform: 'node',
  external: ['better-sqlite3', 'pg', 'pino-pretty'],
  logLevel: 'warn',
  output: {
    file: out,
    format: 'cjs',
    codeSplitting: false,
    // one-byte source: V8 keeps a source with any other character as two bytes per character
    charset: 'ascii',
    comments: false,
  },
});
