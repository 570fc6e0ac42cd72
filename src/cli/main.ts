import { CHECK_USAGE, checkCommand } from './check.js';
import { HASH_PASSWORD_USAGE, hashPasswordCommand } from './hash-password.js';
import { type CliIo, EXIT } from './io.js';
import { SIMULATE_USAGE, simulateCommand } from './simulate.js';
import { START_USAGE, startCommand } from './start.js';
import { TEST_RULE_USAGE, testRuleCommand } from './test-rule.js';

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

const COMMANDS: Record<string, { run: Run; usage: string }> = {
  start: { run: startCommand, usage: START_USAGE },
  check: { run: checkCommand, usage: CHECK_USAGE },
  'test-rule': { run: testRuleCommand, usage: TEST_RULE_USAGE },
  'hash-password': { run: hashPasswordCommand, usage: HASH_PASSWORD_USAGE },
  simulate: { run: simulateCommand, usage: SIMULATE_USAGE },
};

/** Runs a command line; the exit code, or undefined for a command that keeps running (start, simulate). */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number | undefined> {
  const [first, ...rest] = argv;
  if (first === undefined || first === '-h' || first === '--help') {
    io.stdout(USAGE);
    return first === undefined ? EXIT.usage : EXIT.ok;
  }
  if (first === 'help') {
    const command = rest[0] === undefined ? undefined : COMMANDS[rest[0]];
    io.stdout(command?.usage ?? USAGE);
    return EXIT.ok;
  }
  const command = COMMANDS[first];
  if (!command) {
    io.stderr(`unknown command '${first}'\n\n${USAGE}`);
    return EXIT.usage;
  }
  return command.run(rest, io);
}
