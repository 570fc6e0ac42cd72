import { hashPassword } from '../devices/password.js';
import { BridgeError } from '../errors.js';
import { type CliIo, EXIT, parseCommandLine, readAll } from './io.js';

export const HASH_PASSWORD_USAGE = `Usage: mqtt-sms-bridge hash-password

Prints a scrypt hash of a password, for \`password_hash\` in devices/*.yaml (and for app
accounts in config/bridge.yaml); the password itself is never stored. On a terminal it
asks twice without echoing; otherwise it reads the first line of standard input:

  printf '%s' 's3cret-pump7' | mqtt-sms-bridge hash-password

Options:
  -h, --help   show this help
`;

export async function hashPasswordCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const parsed = parseCommandLine(argv, {}, HASH_PASSWORD_USAGE, io);
  if (typeof parsed === 'number') return parsed;
  let password: string;
  if (io.stdin.isTTY && io.stdin.setRawMode) {
    password = await promptHidden(io, 'Password: ');
    const again = await promptHidden(io, 'Again: ');
    if (password !== again) {
      io.stderr('the two passwords differ\n');
      return EXIT.problems;
    }
  } else {
    password = firstLine(await readAll(io.stdin));
  }
  try {
    io.stdout(`${await hashPassword(password)}\n`);
    return EXIT.ok;
  } catch (err) {
    if (err instanceof BridgeError) {
      io.stderr(`${err.message}\n`);
      return EXIT.problems;
    }
    throw err;
  }
}

function firstLine(text: string): string {
  const end = text.search(/\r?\n/);
  return end === -1 ? text : text.slice(0, end);
}

/** Reads one line from a terminal in raw mode, echoing nothing; Ctrl-C aborts. */
function promptHidden(io: CliIo, prompt: string): Promise<string> {
  const stdin = io.stdin;
  io.stderr(prompt);
  return new Promise((resolve, reject) => {
    let text = '';
    stdin.setRawMode?.(true);
    stdin.resume();
    const onData = (chunk: Buffer | string) => {
      for (const ch of chunk.toString()) {
        if (ch === '\r' || ch === '\n') return finish(() => resolve(text));
        if (ch === '\u0003') return finish(() => reject(new Error('cancelled')));
        if (ch === '\u007f' || ch === '\b') text = text.slice(0, -1);
        else text += ch;
      }
    };
    const finish = (settle: () => void) => {
      stdin.off('data', onData);
      stdin.setRawMode?.(false);
      stdin.pause();
      io.stderr('\n');
      settle();
    };
    stdin.on('data', onData);
  });
}
