// 5. Inbound: MO injected by the simulator at a fixed rate; latency deliver_sm -> PUBLISH on the device's
// command topic, read by a device connected to the bridge from this process (one clock).
import { createHistogram } from 'node:perf_hooks';
import { hashPassword } from '../dist/devices/password.js';
import { silentLogger } from '../dist/logger.js';
import { SmscSimulator } from '../dist/simulator/smsc.js';
import { inTurn, log, median, removeDir, sleep, startServer, tempDir, writeBridge } from './lib/common.mjs';
import { pubackPacket, rawConnect, readPublish, subscribePacket } from './lib/mqtt-raw.mjs';

const OPERATORS = 1000;
const phone = (j) => `+4477009${String(j).padStart(5, '0')}`;

function rulesYaml() {
  const lines = ['contacts:'];
  for (let j = 0; j < OPERATORS; j++) lines.push(`  op${j}: { phone: "${phone(j)}" }`);
  lines.push('groups:', `  field: [${Array.from({ length: OPERATORS }, (_, j) => `op${j}`).join(', ')}]`);
  lines.push('rules: []');
  return `${lines.join('\n')}\n`;
}

// the figures are of the last `seconds`, after `warmup` seconds at the rate (the process's first second pays for
// compiling its hot paths); `p99All` is of the whole run
async function inboundOnce({ rate, seconds, cpuProf, warmup = 2, floor = false, dist }) {
  const hash = await hashPassword('bench-secret');
  const devices = `type: pump
commands:
  setpoint:
    args: [{ name: value, type: number, min: 0, max: 120 }]
    payload: { action: setpoint, value: "{{args.value}}" }
devices:
  - { id: pump-7, name: Pump 7, password_hash: "${hash}", operators: [field] }
`;
  const sim = new SmscSimulator({ receipts: false, logger: silentLogger() });
  const { port } = await sim.start({ port: 0 });
  const dir = tempDir();
  const configFile = writeBridge(dir, {
    smscPort: port,
    rules: rulesYaml(),
    devices,
    anonymous: false,
    connection: '      window: 100\n      tps: 1000000',
  });
  // floor: the end-to-end floor (bench/lib/floor-pipeline.mjs) in the bridge's place
  const spec = floor
    ? { mode: 'floor', smscPort: port, synchronous: 'full', window: 100, cwd: dir }
    : { mode: 'bridge', configFile, cwd: dir, dist };
  const server = await startServer(spec, { cpuProf });
  try {
    for (let i = 0; i < 500 && sim.boundSessions().length === 0; i++) await sleep(10);
    const n = rate * (warmup + seconds);
    const measuredFrom = rate * warmup;
    const interval = 1000 / rate;
    const scheduled = new Map();
    const toCommand = createHistogram({ lowest: 1, highest: 60_000_000, figures: 3 });
    const allToCommand = createHistogram({ lowest: 1, highest: 60_000_000, figures: 3 });
    const toResp = createHistogram({ lowest: 1, highest: 60_000_000, figures: 3 });
    // from when the deliver_sm was written: the driver's timers fire up to ~1 ms after the schedule
    const fromWrite = createHistogram({ lowest: 1, highest: 60_000_000, figures: 3 });
    let arrived = 0;
    let done;
    const finished = new Promise((resolve) => {
      done = resolve;
    });
    const device = await rawConnect(server.ready.port, {
      clientId: 'pump-7',
      username: 'pump-7',
      password: 'bench-secret',
    });
    const subscribed = new Promise((resolve) => {
      device.setHandler((type, flags, body) => {
        if (type === 9) resolve();
        if (type !== 3) return;
        const at = performance.now();
        const p = readPublish(flags, body);
        if (p.qos > 0) device.socket.write(pubackPacket(p.id));
        const cmd = JSON.parse(p.payload.toString('utf8'));
        const sent = scheduled.get(`${cmd.from}|${cmd.args?.value}`);
        if (sent === undefined) return;
        const us = Math.max(1, Math.round((at - sent.t) * 1000));
        allToCommand.record(us);
        if (sent.i >= measuredFrom) {
          toCommand.record(us);
          fromWrite.record(Math.max(1, Math.round((at - sent.w) * 1000)));
        }
        if (++arrived === n) done();
      });
    });
    device.socket.write(subscribePacket('devices/pump-7/commands', 1, 1));
    await subscribed;
    const cpuBefore = (await server.stats()).cpu;
    const start = performance.now() + 50;
    let next = 0;
    const pending = [];
    await new Promise((resolve) => {
      const tick = () => {
        const now = performance.now();
        while (next < n && start + next * interval <= now) {
          // from and value unique per message: the same text from the same sender would be deduplicated
          const j = next % OPERATORS;
          const value = Math.floor(next / OPERATORS) % 121;
          const t = start + next * interval;
          const measured = next >= measuredFrom;
          scheduled.set(`${phone(j)}|${value}`, { t, i: next, w: performance.now() });
          pending.push(
            sim.injectMo({ from: phone(j), to: 'BRIDGE', text: `pump-7 setpoint ${value}` }).then(() => {
              if (measured) toResp.record(Math.max(1, Math.round((performance.now() - t) * 1000)));
            }),
          );
          next++;
        }
        if (next < n) setTimeout(tick, Math.max(0, start + next * interval - performance.now() - 0.5));
        else resolve();
      };
      setTimeout(tick, 50);
    });
    await Promise.race([finished, sleep(30_000)]);
    await Promise.allSettled(pending);
    const cpuAfter = (await server.stats()).cpu;
    // bridge CPU per MO (user + system): a ratio that holds up better than latency on a loaded machine
    const cpuUsPerMo = (cpuAfter - cpuBefore) / n;
    device.socket.destroy();
    const ms = (h, p) => h.percentile(p) / 1000;
    return {
      n,
      arrived,
      p50: ms(toCommand, 50),
      p99: ms(toCommand, 99),
      max: toCommand.max / 1000,
      p50Written: ms(fromWrite, 50),
      p99Written: ms(fromWrite, 99),
      p99All: ms(allToCommand, 99),
      respP99: ms(toResp, 99),
      cpuUsPerMo,
    };
  } finally {
    await server.stop();
    await sim.stop();
    removeDir(dir);
  }
}

/** Each run: the bridge, and the end-to-end floor (bench/lib/floor-pipeline.mjs), in alternating order. */
export async function runInbound({ runs, rate, seconds }) {
  const out = { bridge: [], floor: [] };
  for (let r = 0; r < runs; r++) {
    for (const kind of inTurn(['bridge', 'floor'], r)) {
      const m = await inboundOnce({ rate, seconds, floor: kind === 'floor' });
      out[kind].push(m);
      log(
        `  inbound run ${r + 1} ${kind}: p50 ${m.p50.toFixed(2)} ms p99 ${m.p99.toFixed(2)} ms max ${m.max.toFixed(1)} ms (first 2 s included: p99 ${m.p99All.toFixed(2)} ms; from the write: p50 ${m.p50Written.toFixed(2)} p99 ${m.p99Written.toFixed(2)} ms) (${m.arrived}/${m.n}); deliver_sm_resp p99 ${m.respP99.toFixed(2)} ms; server CPU ${m.cpuUsPerMo.toFixed(0)} us/MO`,
      );
    }
  }
  const of = (kind) => {
    const pick = (f) => median(out[kind].map((m) => m[f]));
    return {
      p50: pick('p50'),
      p99: pick('p99'),
      max: pick('max'),
      p99All: pick('p99All'),
      p50Written: pick('p50Written'),
      p99Written: pick('p99Written'),
      respP99: pick('respP99'),
      cpuUsPerMo: pick('cpuUsPerMo'),
    };
  };
  return { ...of('bridge'), floor: of('floor'), raw: out };
}

/**
 * One run with the bridge under --cpu-prof (profile written to `dir`), for the profile notes; `dist`: another
 * build (one without its bundle names its modules in the profile: bench/lib/cpu-shares.mjs).
 */
export async function profileInbound({ rate, seconds, dir, dist }) {
  return inboundOnce({ rate, seconds, cpuProf: dir, dist });
}
