// The SMPP session alone, two builds in one process: each build's SmppClient bound to the lean SMSC (in a child
// process, so its CPU is not counted), `window` submit_sm kept in flight, rounds of `count` submits alternated
// between the builds (A B, B A, ...); CPU of this process per submit_sm and its answer, and the ratio B/A per pair.
// What it covers: SmppClient.submit -> BindSession -> RequestTable -> encoding and write, and the reading of the
// submit_sm_resp up to the promise's resolution; none of the sender, the store or the broker.
//   node bench/session-ab.mjs <distA> <distB> [pairs=8] [count=20000] [window=100]
import { fork } from 'node:child_process';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { benchSubmitParams } from './lib/common.mjs';

if (process.argv[2] === '--smsc') {
  const { LeanSmsc } = await import('./lib/lean-smsc.mjs');
  const smsc = new LeanSmsc();
  const { port } = await smsc.start({ port: 0 });
  process.send({ port });
} else {
  const [a, b, pairs = '8', count = '20000', window = '100'] = process.argv.slice(2);
  if (!a || !b) throw new Error('usage: node bench/session-ab.mjs <distA> <distB> [pairs] [count] [window]');
  const child = fork(new URL(import.meta.url).pathname, ['--smsc'], { stdio: 'inherit' });
  const port = await new Promise((ok) => child.once('message', (m) => ok(m.port)));
  const clientOf = async (dist) => {
    const url = pathToFileURL(resolve(dist)).href;
    const { silentLogger } = await import(`${url}/logger.js`);
    const { SmppClient } = await import(`${url}/smpp/session.js`);
    const { planSms } = await import(`${url}/smpp/plan.js`);
    const client = new SmppClient(
      { id: 'ab', url: `smpp://127.0.0.1:${port}`, systemId: 'bench', password: 'secret' },
      silentLogger(),
    );
    client.start();
    while (!client.bound) await new Promise((r) => setTimeout(r, 10));
    const part = planSms('Pump 7 overheating: 97C', 'udh8', 4, 1).submits[0];
    const params = benchSubmitParams(part, { registeredDelivery: 1, validityPeriod: '000001000000000R' });
    return { client, params };
  };
  const sides = { A: await clientOf(a), B: await clientOf(b) };
  const round = async ({ client, params }) => {
    let left = Number(count);
    let ids = 0;
    const lane = async () => {
      while (left > 0) {
        left--;
        const r = await client.submit(params);
        ids += r.messageId.length;
      }
    };
    const start = process.cpuUsage();
    await Promise.all(Array.from({ length: Number(window) }, lane));
    const used = process.cpuUsage(start);
    if (ids === 0) throw new Error('no message ids');
    return (used.user + used.system) / Number(count);
  };
  for (const side of Object.values(sides)) await round(side); // warm-up
  const ratios = [];
  for (let i = 0; i < Number(pairs); i++) {
    const order = i % 2 === 0 ? ['A', 'B'] : ['B', 'A'];
    const got = {};
    for (const k of order) got[k] = await round(sides[k]);
    ratios.push(got.B / got.A);
    process.stdout.write(
      `pair ${i + 1}: A ${got.A.toFixed(2)} us, B ${got.B.toFixed(2)} us per submit_sm, B/A ${(got.B / got.A).toFixed(3)}\n`,
    );
  }
  const sorted = [...ratios].sort((x, y) => x - y);
  const mid = sorted.length / 2;
  const median = sorted.length % 2 ? sorted[Math.floor(mid)] : (sorted[mid - 1] + sorted[mid]) / 2;
  process.stdout.write(`B/A ${ratios.map((r) => r.toFixed(3)).join(', ')} (median ${median.toFixed(3)})\n`);
  for (const { client } of Object.values(sides)) await client.stop();
  child.kill();
}
