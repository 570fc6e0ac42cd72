import { createCli } from './dispatch.js';

// Each command's module is loaded only when it runs: `start` does not load the simulator's MQTT client,
// `simulate` does not load the bridge.
export const runCli = createCli({
  start: () => import('./start.js').then((m) => ({ run: m.startCommand, usage: m.START_USAGE })),
  check: () => import('./check.js').then((m) => ({ run: m.checkCommand, usage: m.CHECK_USAGE })),
  'test-rule': () =>
    import('./test-rule.js').then((m) => ({ run: m.testRuleCommand, usage: m.TEST_RULE_USAGE })),
  'hash-password': () =>
    import('./hash-password.js').then((m) => ({ run: m.hashPasswordCommand, usage: m.HASH_PASSWORD_USAGE })),
  simulate: () => import('./simulate.js').then((m) => ({ run: m.simulateCommand, usage: m.SIMULATE_USAGE })),
});
