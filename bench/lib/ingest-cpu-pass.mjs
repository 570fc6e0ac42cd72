// Shared by bench/ingest-cpu.mjs and bench/ingest-cpu-interleaved.mjs: the entrants named on the command line and
// one pass of telemetry messages from every client, as the server's CPU per message.
import { resolve } from 'node:path';
import { arg } from './common.mjs';
import { publishPacket } from './mqtt-raw.mjs';

export const PAYLOAD = '{"temp":21.5,"state":"running","rpm":1450}';

/** --rounds, --qos, --clients, --messages (per client, per pass) and --telemetry-rules, with these defaults. */
export function cpuArgs({ rounds, messages }) {
  return {
    rounds: Number(arg('rounds', String(rounds))),
    qos: Number(arg('qos', '0')),
    clients: Number(arg('clients', '50')),
    perClient: Number(arg('messages', String(messages))),
    telemetryRules: Number(arg('telemetry-rules', '2')),
  };
}

/** Bare aedes, then --base, --also=name=dist,..., then --new (default: this checkout's dist/). */
export function entrantsFromArgs() {
  return [
    { name: 'aedes', mode: 'aedes' },
    ...(arg('base') ? [{ name: 'base', mode: 'bridge', dist: resolve(arg('base')) }] : []),
    ...(arg('also') ?? '')
      .split(',')
      .filter(Boolean)
      .map((p) => ({ name: p.split('=')[0], mode: 'bridge', dist: resolve(p.split('=')[1]) })),
    { name: 'new', mode: 'bridge', dist: arg('new') ? resolve(arg('new')) : undefined },
  ];
}

/** Server CPU µs per message for one pass of `perClient` messages from each client. */
export async function cpuPass(conns, server, { qos, perClient }) {
  const before = await server.stats();
  await Promise.all(
    conns.map(
      (c) =>
        new Promise((done) => {
          const t = `devices/${c.id}/telemetry`;
          if (qos === 0) {
            const one = publishPacket(t, PAYLOAD, 0).buf;
            c.setHandler((type) => type === 13 && done());
            c.socket.write(
              Buffer.concat([...Array.from({ length: perClient }, () => one), Buffer.from([0xc0, 0])]),
            );
          } else {
            let sent = 0;
            let acked = 0;
            const send = (n) => {
              const parts = [];
              for (let k = 0; k < n && sent < perClient; k++)
                parts.push(publishPacket(t, PAYLOAD, 1, (sent++ % 65535) + 1).buf);
              if (parts.length > 0) c.socket.write(Buffer.concat(parts));
            };
            c.setHandler((type) => {
              if (type !== 4) return;
              acked++;
              if (acked === perClient) done();
              else send(1);
            });
            send(64);
          }
        }),
    ),
  );
  const after = await server.stats();
  return (after.cpu - before.cpu) / (conns.length * perClient);
}
