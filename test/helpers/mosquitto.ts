import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';
import { tempDir } from './harness.js';

/** Debian's `mosquitto` (`apt-get install -y mosquitto`; `.ci/run` installs it when missing). */
export const MOSQUITTO = '/usr/sbin/mosquitto';
export const hasMosquitto = existsSync(MOSQUITTO);

export interface MosquittoOptions {
  /** user name -> password; anonymous clients are refused when set. Default: anonymous allowed. */
  users?: Record<string, string>;
  /** the text of an ACL file (`acl_file`). Default: none (everyone may do everything). */
  acl?: string;
  /** keep sessions and queued messages across `restart()` (a persistence file in the temp dir). Default false. */
  persistence?: boolean;
  /** extra lines for mosquitto.conf */
  extra?: string;
}

export interface Mosquitto {
  port: number;
  url: string;
  dir: string;
  /** stops the broker (SIGTERM; with persistence it saves its database) and starts it again on the same port */
  restart(): Promise<void>;
  /** stops it and removes the temp dir */
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (typeof address !== 'object' || !address) throw new Error('no port');
  return address.port;
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Starts mosquitto on a free port with a generated config in a temp dir; resolves once it accepts connections. */
export async function startMosquitto(options: MosquittoOptions = {}): Promise<Mosquitto> {
  const dir = tempDir();
  const config = join(dir, 'mosquitto.conf');
  const lines = (port: number) => {
    const out = [
      // as root it would switch to user mosquitto, which cannot read our temp dir
      'user root',
      `listener ${port} 127.0.0.1`,
      'log_dest stderr',
      'log_type error',
      'log_type warning',
      `allow_anonymous ${options.users ? 'false' : 'true'}`,
      // the default (20) would hold back messages to a slow subscriber; tests measure the bridge, not this
      'max_inflight_messages 100',
      'max_queued_messages 100000',
    ];
    if (options.users) out.push(`password_file ${join(dir, 'passwd')}`);
    if (options.acl !== undefined) out.push(`acl_file ${join(dir, 'acl')}`);
    if (options.persistence) {
      mkdirSync(join(dir, 'data'), { recursive: true });
      out.push('persistence true', `persistence_location ${join(dir, 'data')}/`, 'autosave_interval 1');
    }
    if (options.extra) out.push(options.extra);
    return `${out.join('\n')}\n`;
  };
  if (options.users) {
    const file = join(dir, 'passwd');
    writeFileSync(file, '');
    for (const [user, password] of Object.entries(options.users))
      execFileSync('/usr/bin/mosquitto_passwd', ['-b', file, user, password]);
  }
  if (options.acl !== undefined) writeFileSync(join(dir, 'acl'), options.acl);

  let child: ChildProcess | undefined;
  let stderr = '';
  let port = 0;
  const launch = async (): Promise<void> => {
    writeFileSync(config, lines(port));
    stderr = '';
    const proc = spawn(MOSQUITTO, ['-c', config], { stdio: ['ignore', 'ignore', 'pipe'] });
    child = proc;
    proc.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const deadline = Date.now() + 5000;
    while (!(await accepts(port))) {
      if (proc.exitCode !== null) throw new Error(`mosquitto exited ${proc.exitCode}: ${stderr}`);
      if (Date.now() > deadline) throw new Error(`mosquitto did not accept on ${port}: ${stderr}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  const halt = async (): Promise<void> => {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.kill('SIGTERM');
    const timer = setTimeout(() => proc.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(timer);
  };
  // the port is free when we look; another process may take it before mosquitto binds: try again then
  for (let attempt = 0; ; attempt++) {
    port = await freePort();
    try {
      await launch();
      break;
    } catch (err) {
      await halt();
      if (attempt >= 4) {
        rmSync(dir, { recursive: true, force: true });
        throw err;
      }
    }
  }
  return {
    port,
    url: `mqtt://127.0.0.1:${port}`,
    dir,
    async restart() {
      await halt();
      await launch();
    },
    async stop() {
      await halt();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
