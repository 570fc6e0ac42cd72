// The entry of dist/bridge.cjs (scripts/bundle.mjs), which `npm start` runs through src/launch.ts. Every module is
// imported statically: one dynamic import would make the bundler wrap each module it reaches in a lazy
// initialiser, whose module-level constants become variables (~3% more CPU per message at ingest, BENCHMARKS.md
// session 6). The commands' modules are all evaluated at start-up then; they only define things.
import pino from 'pino';
import { App } from '../app.js';
import { loadBridgeConfig } from '../config/load-bridge.js';
import { createLogger, logDestination } from '../logger.js';
import { CHECK_USAGE, checkCommand } from './check.js';
import { createCli } from './dispatch.js';
import { HASH_PASSWORD_USAGE, hashPasswordCommand } from './hash-password.js';
import { SIMULATE_USAGE, simulateCommand } from './simulate.js';
import { START_USAGE, startCommand } from './start.js';
import { TEST_RULE_USAGE, testRuleCommand } from './test-rule.js';

export { processIo } from './io.js';

export const runCli = createCli({
  start: () => Promise.resolve({ run: startCommand, usage: START_USAGE }),
  check: () => Promise.resolve({ run: checkCommand, usage: CHECK_USAGE }),
  'test-rule': () => Promise.resolve({ run: testRuleCommand, usage: TEST_RULE_USAGE }),
  'hash-password': () => Promise.resolve({ run: hashPasswordCommand, usage: HASH_PASSWORD_USAGE }),
  simulate: () => Promise.resolve({ run: simulateCommand, usage: SIMULATE_USAGE }),
});

/** What bench/lib/server-child.mjs builds the bridge from, taken from the bundle as `npm start` runs it. */
export async function benchParts() {
  return { App, loadBridgeConfig, createLogger, logDestination, pino };
}
