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
// better-sqlite3's JavaScript (14 files, compiled at every start when required from node_modules: ~10 ms CPU) is
// bundled and so code-cached; its native addon stays in node_modules, required by its path inside the package
// instead of through `bindings` (which looks for it by reading a stack trace and trying a dozen paths: ~6 ms). A
// build that put the addon elsewhere is still found by `bindings`, told the package's root.
const ADDON_LOOKUP = "require('bindings')('better_sqlite3.node')";
const ADDON = 'better-sqlite3/build/Release/better_sqlite3.node';
const sqliteAddonDirect = {
  name: 'sqlite-addon-direct',
  resolveId(source) {
    return source === ADDON || source === 'bindings' ? { id: source, external: true } : null;
  },
  transform(code, id) {
    if (!id.replace(/\\/g, '/').endsWith('/better-sqlite3/lib/database.js')) return null;
    if (!code.includes(ADDON_LOOKUP)) throw new Error(`better-sqlite3 no longer loads its addon by ${ADDON_LOOKUP}`);
    return code.replace(
      ADDON_LOOKUP,
      `(() => { try { return require(${JSON.stringify(ADDON)}); } catch (err) { if (err.code !== 'MODULE_NOT_FOUND') throw err; return require('bindings')({ bindings: 'better_sqlite3.node', module_root: path.dirname(path.dirname(require.resolve('better-sqlite3'))) }); } })()`,
    );
  },
};
// `debug`, which mqtt-packet calls a dozen times per packet, gathers each call's arguments into an array before it
// looks whether its namespace is on (~4% of ingest's CPU, 1.5 KB of garbage per alert SMS). While DEBUG is unset at
// start, the bundle's `debug` is a function that does nothing; with DEBUG set it is the package, from node_modules.
const DEBUG_STANDIN = '\0debug-standin';
const debugStandIn = {
  name: 'debug-standin',
  resolveId(source, importer) {
    if (source !== 'debug') return null;
    return importer === DEBUG_STANDIN ? { id: 'debug', external: true } : DEBUG_STANDIN;
  },
  load(id) {
    if (id !== DEBUG_STANDIN) return null;
    return `if (process.env.DEBUG) module.exports = require('debug');
else {
  const off = function () {};
  off.enabled = false;
  off.namespace = '';
  off.log = off;
  off.destroy = () => true;
  off.extend = () => off;
  const createDebug = () => off;
  createDebug.enable = () => {};
  createDebug.disable = () => '';
  createDebug.enabled = () => false;
  module.exports = createDebug;
}`;
  },
};
await build({
  input: 'dist/cli/bundled.js',
  platform: 'node',
  external: ['pg', 'pino-pretty'],
  plugins: [iconvTablesOutside, sqliteAddonDirect, debugStandIn],
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
