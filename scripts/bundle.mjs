// dist/bridge.cjs: dist/ bundled into one CommonJS file for `npm start` (src/launch.ts runs it with a V8 code
// cache). Run by `npm run build` after tsc. The native addon and the packages loaded only on demand by
// createRequire (pg, mqtt in external mode, yaml's fallback) stay in node_modules. The same dist/ gives the same
// bytes, so the code cache of the last start stays valid across `npm start`'s rebuild (src/cli/code-cache.ts keys
// it by the bundle's content) and a changed bundle never meets an old cache.
import { build } from 'rolldown';

const out = 'dist/bridge.cjs';

// iconv-lite's code-page tables (CJK, ~0.5 MB as escaped ASCII) are required only for those encodings: left in
// node_modules, required from there if one is ever used
const iconvTablesOutside = {
  name: 'iconv-tables-outside',
  resolveId(source, importer) {
    if (!importer?.includes('/iconv-lite/encodings/') || !source.startsWith('./tables/')) return null;
    return { id: `iconv-lite/encodings/${source.slice(2)}`, external: true };
  },
};
await build({
  input: 'dist/cli/bundled.js',
  platform: 'node',
  external: ['better-sqlite3', 'pg', 'pino-pretty'],
  plugins: [iconvTablesOutside],
  logLevel: 'warn',
  output: {
    file: out,
    format: 'cjs',
    codeSplitting: false,
    // one-byte source: V8 keeps a source with any other character as two bytes per character
    charset: 'ascii',
    comments: false,
    // whitespace only: names stay as they are, for stack traces and for code that reads a function's name
    minify: { compress: false, mangle: false, codegen: { removeWhitespace: true } },
  },
});
