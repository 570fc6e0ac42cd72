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

/** Each command's module, loaded when it runs. */
export type Commands = Record<string, () => Promise<{ run: Run; usage: string }>>;

/**
 * The command line over a table of commands: `main.ts` loads each command's module only when it runs (from the
 * compiled files); the bundle (`bundled.ts`) has them all in hand, so that it holds no dynamic import, which would
 * make the bundler wrap every module it reaches in a lazy initialiser (BENCHMARKS.md, session 6).
 */
export function createCli(
  commands: Commands,
): (argv: readonly string[], io: CliIo) => Promise<number | undefined> {
  const commandOf = (name: string) => (Object.hasOwn(commands, name) ? commands[name] : undefined);
  return (argv, io) => runCli(argv, io, commandOf);
}

/** Runs a command line; the exit code, or undefined for a command that keeps running (start, simulate). */
async function runCli(
  argv: readonly string[],
  io: CliIo,
  commandOf: (name: string) => Commands[string] | undefined,
): Promise<number | undefined> {
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
