import { Readable } from 'node:stream';
import type { CliIo } from '../../../src/cli/io.js';

export interface CapturedIo extends CliIo {
  out: string;
  err: string;
}

/** An io that records what a command prints; stdin is `input` (not a terminal). */
export function captureIo(cwd: string, input = '', env: NodeJS.ProcessEnv = {}): CapturedIo {
  const io: CapturedIo = {
    out: '',
    err: '',
    stdout: (text) => {
      io.out += text;
    },
    stderr: (text) => {
      io.err += text;
    },
    cwd,
    env,
    stdin: Readable.from([Buffer.from(input)]),
  };
  return io;
}
