import { type ParseArgsConfig, parseArgs } from 'node:util';

/** What a command may touch; the entry point passes the process's, tests their own. */
export interface CliIo {
  stdout(text: string): void;
  stderr(text: string): void;
  /** where relative paths and globs are resolved */
  cwd: string;
  env: NodeJS.ProcessEnv;
  stdin: NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?: (mode: boolean) => unknown };
}

/** Exit codes: 0 fine, 1 a problem was found or the command failed, 2 the command line was wrong. */
export const EXIT = { ok: 0, problems: 1, usage: 2 } as const;

type Options = NonNullable<ParseArgsConfig['options']>;

/**
 * parseArgs with `-h/--help` added. Returns the parsed values, or an exit code after printing the usage
 * (for --help) or the mistake and the usage (for a wrong command line).
 */
export function parseCommandLine<O extends Options>(
  argv: readonly string[],
  options: O,
  usage: string,
  io: CliIo,
  allowPositionals = false,
) {
  try {
    const parsed = parseArgs({
      args: [...argv],
      options: { ...options, help: { type: 'boolean', short: 'h' } },
      allowPositionals,
      strict: true,
    });
    if ((parsed.values as { help?: boolean }).help) {
      io.stdout(usage);
      return EXIT.ok;
    }
    return parsed;
  } catch (err) {
    io.stderr(`${(err as Error).message}\n\n${usage}`);
    return EXIT.usage;
  }
}

export function processIo(): CliIo {
  return {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    cwd: process.cwd(),
    env: process.env,
    stdin: process.stdin,
  };
}

/** All of a stream, as UTF-8 text. */
export async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
  return Buffer.concat(chunks).toString('utf8');
}
