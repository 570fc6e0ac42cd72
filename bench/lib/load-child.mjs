// Load generator, run as a child process so that it never shares the bridge's event loop.
// Driven over IPC: connect -> blast | burst -> stop.
import { publishPacket, rawConnect } from './mqtt-raw.mjs';

const clients = [];
let running = false;
let sent = 0;
let acked = 0;

async function connectAll({ port, count, prefix, keepalive = 0, concurrency = 200 }) {
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      const c = await rawConnect(port, { clientId: `${prefix}${i}`, keepalive });
      c.index = i;
      clients.push(c);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
}

/** QoS 0 in batches paced by PINGREQ/PINGRESP or closed loop at QoS 1 (`window` unacked per client). */
function blast({ qos, topic, payload, window = 16, batch = 32, pings = 2 }) {
  running = true;
  for (const c of clients) {
    const t = topic.replace('{id}', `dev-${c.index}`);
    if (qos === 0) {
      // QoS 0 has no acknowledgement, so each batch ends with a PINGREQ [MQTT-3.12] and the next batch goes
      // out when its PINGRESP comes back: the broker always has work queued, but never seconds of it in
      // kernel buffers (that starves its timers and makes the measured window meaningless).
      const one = publishPacket(t, payload, 0).buf;
      const many = Buffer.concat([...Array.from({ length: batch }, () => one), Buffer.from([0xc0, 0x00])]);
      c.setHandler((type) => {
        if (type !== 13 || !running) return;
        sent += batch;
        c.socket.write(many);
      });
      setImmediate(() => {
        for (let k = 0; k < pings; k++) c.socket.write(many);
        sent += batch * pings;
      });
    } else {
      const { buf: template, idOffset } = publishPacket(t, payload, 1, 1);
      let id = 0;
      const make = (n) => {
        const out = Buffer.allocUnsafe(template.length * n);
        for (let k = 0; k < n; k++) {
          template.copy(out, k * template.length);
          id = (id % 65535) + 1;
          out.writeUInt16BE(id, k * template.length + idOffset);
        }
        sent += n;
        return out;
      };
      c.setHandler((type) => {
        if (type !== 4) return;
        acked++;
        if (running) c.pendingAcks = (c.pendingAcks ?? 0) + 1;
      });
      // a blast after a stop replaces the last one's listener (bench/ingest.mjs blasts the same clients in turns)
      if (c.onBlastData) c.socket.off('data', c.onBlastData);
      c.pendingAcks = 0;
      c.onBlastData = () => {
        // answer every PUBACK of this chunk with one write
        const n = c.pendingAcks ?? 0;
        c.pendingAcks = 0;
        if (n > 0 && running) c.socket.write(make(n));
      };
      c.socket.on('data', c.onBlastData);
      setImmediate(() => c.socket.write(make(window)));
    }
  }
}

/**
 * A fixed number of QoS 1 alerts per client, each to its own device topic so that each opens its own alert:
 * `devices/<prefix><client>x<k>/alerts/<kind>`; with `topic`, every message of a client goes to that topic
 * (`{c}` replaced by the client's index). Reports the time of the first publish and of the last PUBACK.
 */
function burst({ perClient, window = 20, prefix, kind, payload, topic }) {
  const total = perClient * clients.length;
  let firstAt = 0;
  return new Promise((resolve) => {
    for (const c of clients) {
      let k = 0;
      let inflight = 0;
      const send = () => {
        const parts = [];
        while (inflight < window && k < perClient) {
          const { buf } = publishPacket(
            topic ? topic.replace('{c}', String(c.index)) : `devices/${prefix}${c.index}x${k}/alerts/${kind}`,
            payload.replace('{n}', String(c.index * perClient + k)),
            1,
            (k % 65535) + 1,
          );
          parts.push(buf);
          k++;
          inflight++;
        }
        if (parts.length > 0) {
          if (firstAt === 0) firstAt = Date.now();
          sent += parts.length;
          c.socket.write(parts.length === 1 ? parts[0] : Buffer.concat(parts));
        }
      };
      c.setHandler((type) => {
        if (type !== 4) return;
        acked++;
        inflight--;
        if (acked === total) resolve({ firstAt, lastAckAt: Date.now(), acked });
      });
      c.socket.on('data', send);
      setImmediate(send);
    }
  });
}

process.on('message', (msg) => {
  const reply = (m) => process.send?.(m);
  switch (msg.cmd) {
    case 'connect':
      connectAll(msg).then(
        () => reply({ type: 'connected', count: clients.length }),
        (err) => reply({ type: 'error', error: String(err) }),
      );
      break;
    case 'blast':
      sent = 0;
      acked = 0;
      blast(msg);
      reply({ type: 'blasting' });
      break;
    case 'burst':
      sent = 0;
      acked = 0;
      burst(msg).then(
        (r) => reply({ type: 'burst-done', ...r }),
        (err) => reply({ type: 'error', error: String(err) }),
      );
      break;
    case 'cpu': {
      const u = process.cpuUsage();
      reply({ type: 'cpu', cpuUs: u.user + u.system });
      break;
    }
    case 'stop':
      running = false;
      reply({ type: 'stopped', sent, acked });
      break;
    case 'exit':
      // a reset, not a FIN: the broker drops what is still queued instead of working through it
      for (const c of clients) c.socket.resetAndDestroy();
      process.exit(0);
      break;
    default:
      reply({ type: 'error', error: `unknown command ${msg.cmd}` });
  }
});
