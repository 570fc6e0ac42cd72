import { type CliIo, EXIT } from './io.js';

export const USAGE = `Usage: mqtt-sms-bridge <command> [options]

Commands:
  start           run the bridge
  check           validate the configuration, rule and device files (exit code 1 on a problem)
  test-rule       dry run: which rules a message fires, to whom, with what text
  hash-password   make a password hash for devices/*.yaml
  simulate        run an SMSC simulator and demo devices against a running bridge

Run 'mqtt-sms-bridge <command> --help' for the options of a command.
`;

type Run = (argv: readonly string[], io: CliIo) => Promise<number | undefined>;

// Each command's module is loaded only when it runs: `start` does not load the simulator's MQTT client,
// `simulate` does not load the bridge.
const COMMANDS: Record<string, () => Promise<{ run: Run; usage: string }>> = {
  start: () => import('./start.js').then((m) => ({ run: m.startCommand, usage: m.START_USAGE })),
  check: () => import('./check.js').then((m) => ({ run: m.checkCommand, usage: m.CHECK_USAGE })),
  'test-rule': () =>
    import('./test-rule.js').then((m) => ({ run: m.testRuleCommand, usage: m.TEST_RULE_USAGE })),
  'hash-password': () =>
    import('./hash-password.js').then((m) => ({ run: m.hashPasswordCommand, usage: m.HASH_PASSWORD_USAGE })),
  simulate: () => import('./simulate.js').then((m) => ({ run: m.simulateCommand, usage: m.SIMULATE_USAGE })),
};

const commandOf = (name: string) => (Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined);

/** Runs a command line; the exit code, or undefined for a command that keeps running (start, simulate). */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number | undefined> {
  const [first, ...rest] = argv;
  if (first === undefined || first === '-h' || first === '--help') {
    io.stdout(USAGE);
    return first === undefined ? EXIT.usage : EXIT.ok;
  }
  if (first === 'help') {
    const load = rest[0] === undefined ? undefined : commandOf(rest[0]);
    io.stdout(load ? (await load()).usage : USAGE);
    return EXIT.ok;
  }
  const load = commandOf(first);
  if (!load) {
    io.stderr(`unknown command '${first}'\n\n${USAGE}`);
    return EXIT.usage;
  }
  return (await load()).run(rest, io);
}
