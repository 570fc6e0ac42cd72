// Submit path alone: one SMPP connection to the simulator (same process), `window` submit_sm kept in flight,
// no rate limit. Rate vs window shows where the window, not the CPU, caps a connection (rate <= window / RTT).
// node bench/window.mjs [seconds per window] [dist dir]

import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { benchSubmitParams, log } from './lib/common.mjs';

const seconds = Number(process.argv[2] ?? 2);
const dist = pathToFileURL(resolve(process.argv[3] ?? new URL('../dist', import.meta.url).pathname)).href;
const { silentLogger } = await import(`${dist}/logger.js`);
const { SmscSimulator } = await import(`${dist}/simulator/smsc.js`);
const { SmppClient } = await import(`${dist}/smpp/session.js`);
const { planSms } = await import(`${dist}/smpp/plan.js`);

export async function windowVsRate(windows = [1, 2, 5, 10, 20, 50, 100]) {
  const sim = new SmscSimulator({ receipts: false, logger: silentLogger() });
  const { port } = await sim.start({ host: '127.0.0.1', port: 0 });
  const client = new SmppClient(
    {
      id: 'w',
      url: `smpp://127.0.0.1:${port}`,
      systemId: 'bench',
      password: '',
      interfaceVersion: 0x34,
      bindMode: 'transceiver',
      addrTon: 0,
      addrNpi: 0,
      addressRange: '',
      enquireLinkIntervalMs: 30_000,
      responseTimeoutMs: 10_000,
      reconnectInitialMs: 100,
      reconnectMaxMs: 1000,
    },
    silentLogger(),
  );
  client.start();
  while (!client.bound) await new Promise((r) => setTimeout(r, 10));
  const part = planSms('Pump 7 overheating: 97C', 'udh8', 4, 1).submits[0];
  const params = benchSubmitParams(part);
  const out = [];
  for (const window of windows) {
    let done = 0;
    let rttSum = 0;
    const until = performance.now() + seconds * 1000;
    const lane = async () => {
      while (performance.now() < until) {
        const t = performance.now();
        await client.submit(params);
        rttSum += performance.now() - t;
        done++;
      }
    };
    const started = performance.now();
    await Promise.all(Array.from({ length: window }, lane));
    const rate = (done * 1000) / (performance.now() - started);
    out.push({ window, rate, rttMs: rttSum / done, done });
  }
  await client.stop();
  await sim.stop();
  return out;
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  for (const r of await windowVsRate())
    log(
      `window ${String(r.window).padStart(3)}: ${r.rate.toFixed(0).padStart(6)} submit_sm/s, mean round trip ${r.rttMs.toFixed(2)} ms, window / round trip ${((r.window / r.rttMs) * 1000).toFixed(0)}/s (${r.done} submits)`,
    );
}
