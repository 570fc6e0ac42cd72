import { execFileSync, fork } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));

export const log = (line) => process.stderr.write(`${line}\n`);

/** `--name=value` from the command line, else `fallback`. */
export const arg = (name, fallback) =>
  process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback;
/** `unref`: a timeout raced against the real outcome, which must not keep the process alive after it. */
export const sleep = (ms, unref = false) =>
  new Promise((r) => {
    const t = setTimeout(r, ms);
    if (unref) t.unref();
  });

/** `list` in this order in even rounds and reversed in odd ones: alternated runs (ABBA) */
export const inTurn = (list, round) => (round % 2 === 0 ? list : [...list].reverse());

export function median(values) {
  const v = values.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return Number.NaN;
  const mid = v.length >> 1;
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

/** A forked child with a request/answer helper over IPC. */
function wrap(child) {
  const waiters = [];
  const early = [];
  child.on('message', (msg) => {
    const i = waiters.findIndex((w) => w.type === msg.type || msg.type === 'error');
    if (i === -1) {
      early.push(msg);
      return;
    }
    const [w] = waiters.splice(i, 1);
    if (msg.type === 'error') w.reject(new Error(msg.error));
    else w.resolve(msg);
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  return {
    child,
    exited,
    wait(type, timeoutMs = 120_000) {
      const j = early.findIndex((m) => m.type === type || m.type === 'error');
      if (j !== -1) {
        const [m] = early.splice(j, 1);
        return m.type === 'error' ? Promise.reject(new Error(m.error)) : Promise.resolve(m);
      }
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timed out waiting for ${type}`)), timeoutMs);
        waiters.push({
          type,
          resolve: (m) => {
            clearTimeout(timer);
            resolve(m);
          },
          reject: (e) => {
            clearTimeout(timer);
            reject(e);
          },
        });
      });
    },
    ask(msg, type, timeoutMs) {
      const p = this.wait(type, timeoutMs);
      child.send(msg);
      return p;
    },
  };
}

/**
 * The Node flags `npm start` gives the bridge: those of the build's launcher (`#!/usr/bin/env -S node FLAGS`
 * in dist/launch.js, the same as in package.json's start script); none for a build from before the launcher.
 */
export function launcherFlags(dist) {
  const launcher = join(dist ?? join(here, '../../dist'), 'launch.js');
  if (!existsSync(launcher)) return [];
  const first = readFileSync(launcher, 'utf8').split('\n', 1)[0];
  return (
    first
      .match(/^#!\/usr\/bin\/env -S node(.*)$/)?.[1]
      .trim()
      .split(/\s+/)
      .filter(Boolean) ?? []
  );
}

/** Starts the bridge or bare aedes in a fresh process; resolves once it listens. */
export async function startServer(spec, { cpuProf, exposeGc, nodeFlags = [] } = {}) {
  const execArgv = [...(spec.mode === 'bridge' ? launcherFlags(spec.dist) : []), ...nodeFlags];
  if (cpuProf) execArgv.push('--cpu-prof', `--cpu-prof-dir=${cpuProf}`);
  if (exposeGc) execArgv.push('--expose-gc');
  // extra V8/Node flags for the server process, e.g. BENCH_SERVER_FLAGS='--trace-gc --max-semi-space-size=16'
  if (process.env.BENCH_SERVER_FLAGS)
    execArgv.push(...process.env.BENCH_SERVER_FLAGS.split(/\s+/).filter(Boolean));
  const spawnedAt = performance.now();
  const w = wrap(
    fork(join(here, 'server-child.mjs'), [JSON.stringify(spec)], { execArgv, stdio: 'inherit' }),
  );
  const ready = await w.wait('ready');
  return {
    ...w,
    ready: { ...ready, spawnToReadyMs: performance.now() - spawnedAt },
    stats: (gc = false) => w.ask({ cmd: 'stats', gc }, 'stats'),
    async stop() {
      const t = setTimeout(() => w.child.kill('SIGKILL'), 15_000);
      w.child.send({ cmd: 'stop' });
      await w.exited;
      clearTimeout(t);
    },
  };
}

/** A load-generator process holding `count` MQTT connections. */
export async function startLoad(port, count, prefix, keepalive = 0) {
  const w = wrap(fork(join(here, 'load-child.mjs'), [], { stdio: 'inherit' }));
  await w.ask({ cmd: 'connect', port, count, prefix, keepalive }, 'connected', 180_000);
  return {
    ...w,
    async exit() {
      w.child.send({ cmd: 'exit' });
      await w.exited;
    },
  };
}

export function tempDir() {
  return mkdtempSync(join(tmpdir(), 'sms-bridge-bench-'));
}

export function removeDir(dir) {
  rmSync(dir, { recursive: true, force: true });
}

/**
 * Bridge config + rule files in `dir`. `connection` is extra YAML under the connection (6 spaces).
 * `rules` is the YAML of the rule file.
 */
export function writeBridge(
  dir,
  { smscPort, rules, devices, connection = '', synchronous = 'full', smpp = '', anonymous = true },
) {
  writeFileSync(join(dir, 'rules.yaml'), rules);
  if (devices) writeFileSync(join(dir, 'devices.yaml'), devices);
  const file = join(dir, 'bridge.yaml');
  writeFileSync(
    file,
    `mqtt: { host: 127.0.0.1, port: 0, allow_anonymous: ${anonymous} }
smpp:
  connections:
    - id: main
      url: "smpp://127.0.0.1:${smscPort}"
      system_id: bridge
      password: secret
      source_addr: BRIDGE
      enquire_link_interval: 30s
      response_timeout: 10s
      reconnect: { initial: 50ms, max: 500ms }
${connection}
${smpp}
store: { path: ${join(dir, 'bridge.db')}, synchronous: ${synchronous} }
rules: [${join(dir, 'rules.yaml')}]
devices: [${devices ? join(dir, 'devices.yaml') : ''}]
`,
  );
  return file;
}

/**
 * `total` rules, of which the first `telemetryRules` watch `devices/+/telemetry` with a condition the
 * benchmark payload never meets (the rule engine still parses and tests every message), and the rest watch
 * alert topics no benchmark device publishes to. `extra` is appended as further rules.
 */
export function manyRules(total, { telemetryRules = 2, extra = '' } = {}) {
  const lines = [
    'contacts:',
    '  alice: { phone: "+447700900001", name: Alice }',
    'groups:',
    '  ops: [alice]',
    'rules:',
  ];
  for (let i = 0; i < total; i++) {
    if (i < telemetryRules) {
      lines.push(
        `  - id: telemetry-${i}`,
        '    topic: devices/+/telemetry',
        `    when: temp > ${1000 + i}`,
        '    to: [ops]',
        '    text: "{{device.id}} hot: {{payload.temp}}"',
      );
    } else {
      lines.push(
        `  - id: rule-${i}`,
        `    topic: devices/+/alerts/kind-${i}`,
        '    to: [ops]',
        `    text: "{{device.id}} kind ${i}: {{payload}}"`,
      );
    }
  }
  return `${lines.join('\n')}\n${extra}`;
}

/**
 * The command line of a one-process A/B script (bench/alert-path.mjs, bench/mqtt-side.mjs): `--one <dist> [total]`
 * prints `one(dist, total)` (us per message); `<distA> <distB> [pairs] [total]` runs that in a fresh process per
 * build, alternated (ABBA...), and prints each pair and the B/A ratios with their median.
 */
export async function abScript(scriptUrl, usage, one) {
  const args = process.argv.slice(2);
  if (args[0] === '--one') {
    process.stdout.write(`${(await one(args[1], Number(args[2] ?? 20000))).toFixed(2)}\n`);
    process.exit(0);
  }
  const [a, b, pairs = '10', total = '20000'] = args;
  if (!a || !b) throw new Error(`usage: ${usage}`);
  const self = fileURLToPath(scriptUrl);
  const run = (dist) => Number(execFileSync(process.execPath, [self, '--one', dist, total]).toString());
  const ratios = [];
  for (let i = 0; i < Number(pairs); i++) {
    const got = {};
    for (const which of i % 2 ? ['B', 'A'] : ['A', 'B']) got[which] = run(which === 'A' ? a : b);
    ratios.push(got.B / got.A);
    log(`  pair ${i + 1}: A ${got.A.toFixed(1)} us, B ${got.B.toFixed(1)} us per message`);
  }
  process.stdout.write(
    `B/A ${ratios.map((r) => r.toFixed(3)).join(', ')} (median ${median(ratios).toFixed(3)})\n`,
  );
}

/**
 * The sender's submit_sm parameters for one planned part (`planSms(...).submits[i]` of a build's
 * `smpp/plan.js`) to a UK mobile from an alphanumeric sender, as the SMPP benchmarks submit it.
 */
export const benchSubmitParams = (part, extra = {}) => ({
  destinationAddr: '447700900001',
  destAddrTon: 1,
  destAddrNpi: 1,
  sourceAddr: 'BRIDGE',
  sourceAddrTon: 5,
  sourceAddrNpi: 0,
  dataCoding: part.dataCoding,
  esmClass: 0,
  shortMessage: part.shortMessage,
  registeredDelivery: 0,
  priorityFlag: 0,
  ...extra,
});
