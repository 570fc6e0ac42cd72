// The entry of dist/bridge.cjs (scripts/bundle.mjs), which `npm start` runs through src/launch.ts.
export { processIo } from './io.js';
export { runCli } from './main.js';

/** What bench/lib/server-child.mjs builds the bridge from, taken from the bundle as `npm start` runs it. */
export async function benchParts() {
  const [{ App }, { loadBridgeConfig }, { createLogger, logDestination }, { default: pino }] =
    await Promise.all([
      import('../app.js'),
      import('../config/load-bridge.js'),
      import('../logger.js'),
      import('pino'),
    ]);
  return { App, loadBridgeConfig, createLogger, logDestination, pino };
}
