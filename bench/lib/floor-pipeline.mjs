// The end-to-end floor under benchmarks 2, 3 and 5: the fewest steps the bridge's guarantees allow, written
// straight on the libraries it is built on (aedes, better-sqlite3, smpp), with none of our code: no rules, alert
// policies, status events, log lines, limiter or store port. The same drivers measure it as they measure the
// bridge (server-child.mjs `mode: 'floor'`), so its figures say what these libraries allow on this machine.
//
// Outbound (an alert publish, QoS 1):
//   authorizePublish -> the alert row and the SMS row joined to a group commit (WAL, synchronous NORMAL, then an
//   fsync of the WAL file on libuv's thread pool when `synchronous` is full, as the bridge's store does; a
//   batch that arrives during an fsync waits for it and commits as one) -> PUBACK and submit_sm (window of
//   `window`, the text `A<n>` from the payload's `n`) -> on submit_sm_resp the message id in a second group
//   commit. `synchronous: 'none'` (`bench/latency-parts.mjs`' floor-none): no SQLite at all, aedes and smpp alone.
// Inbound (deliver_sm `<device> <command> <value>` from a known number):
//   the audit row, the command row and a reply SMS row in one group commit -> the command published (QoS 1) to
//   `devices/<device>/commands`, deliver_sm_resp, the reply's submit_sm.
//
// `extras` (outbound only; `bench/floor-ladder.mjs`) adds, each at the least cost these libraries allow, one thing
// the bridge does that the floor leaves out, to price the bridge's features apart from our code:
//   savepoint  a SAVEPOINT and RELEASE around each message's writes (one bad message rolls back alone)
//   alertstate one live alert per rule and device, updated on each repeat (an upsert on a unique partial index)
//              instead of a new row per message
//   policy     the alert's recipient row (escalation until acknowledged) and a sent row (rate caps that survive a
//              restart), as the bridge writes them
//   receipts   an index on the message id of submitted SMS (a delivery receipt finds its SMS)
//   retained   the alert's state published retained, QoS 1, after the commit (sms-bridge/alerts/<id>)
//   log        two JSON log lines per SMS (queued, submitted) through pino, to /dev/null as the benchmarks do
//   checkpoint the WAL copied back into the database as SQLite does by default (every 1,000 pages, inside the
//              commit): a store that runs for long must, and the bridge does it on a worker thread
// and one that is not a feature but a way to run them (BENCHMARKS.md, "The SQLite writes off the event loop"):
//   worker     the SQLite connection owned by a worker thread (floor-db-worker.mjs): the same rows, statements and
//              durability, but each group commit's writes go to it as one message (a flat array) and come back
//              as one (the ids, after the COMMIT and the WAL's fsync), so the event loop runs none of SQLite
// The schema, statements and writes are floor-db.mjs', shared by both ways.
import { fsync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import pino from 'pino';
import smpp from 'smpp';
import { openFloorDb } from './floor-db.mjs';
import { ALERT, INBOUND, SUBMITTED } from './floor-db-worker.mjs';

const NO_ROWS = { alert: undefined, smsId: undefined };

export async function startFloor({ smscPort, synchronous = 'full', window = 100, dir, extras = [] }) {
  const has = new Set(extras);
  const { Aedes } = await import('aedes');
  const logger = has.has('log')
    ? pino({ level: 'info' }, pino.destination({ dest: '/dev/null', sync: false }))
    : undefined;
  // A job is one message's writes as data (`op`: its kind and fields, as floor-db-worker.mjs reads them) and what
  // follows once they are durable (`done`, given `{ alert, smsId }` for an ALERT job).
  let store;
  let worker;
  if (synchronous !== 'none' && has.has('worker')) {
    worker = new Worker(new URL('./floor-db-worker.mjs', import.meta.url), {
      workerData: { dir, extras, synchronous },
    });
    await new Promise((resolve, reject) => {
      worker.once('error', reject);
      worker.once('message', resolve);
    });
  } else if (synchronous !== 'none') store = openFloorDb(dir, has);
  const run = (op, now) => {
    if (op[0] === ALERT) return store.writeAlert(op[1], op[2], now);
    if (op[0] === SUBMITTED) store.writeSubmitted(op[1], now, op[2]);
    else store.writeInbound(now, op[1], op[2], op[3], op[4], op[5]);
  };

  // One group commit at a time: work asked for during a commit's fsync waits and commits with the next batch.
  let queue = [];
  let busy = false;
  let settle;
  let commits = 0;
  const flushOnLoop = () => {
    const { st, savepoints } = store;
    const batch = queue;
    queue = [];
    const now = Date.now();
    const results = new Array(batch.length);
    st.begin.run();
    for (let i = 0; i < batch.length; i++) {
      if (savepoints) st.savepoint.run();
      results[i] = run(batch[i].op, now);
      if (savepoints) st.release.run();
    }
    st.commit.run();
    const done = () => {
      busy = false;
      for (let i = 0; i < batch.length; i++) batch[i].done(results[i]);
      if (queue.length > 0) setImmediate(flush);
    };
    if (synchronous === 'full') fsync(store.walFd, done);
    else done();
  };
  // the worker's way: the batch's ops as one flat array, one answer after its commit (and fsync)
  const flushToWorker = () => {
    const batch = queue;
    queue = [];
    const ops = [];
    for (const job of batch) for (const field of job.op) ops.push(field);
    settle = (answer) => {
      busy = false;
      let k = 0;
      for (const job of batch) {
        if (job.op[0] === ALERT) {
          job.done({
            alert: { id: answer[k], count: answer[k + 1], opened_at: answer[k + 2] },
            smsId: answer[k + 3],
          });
          k += 4;
        } else job.done();
      }
      if (queue.length > 0) setImmediate(flush);
    };
    worker.postMessage(ops);
  };
  worker?.on('message', (answer) => {
    if (answer instanceof Float64Array) settle(answer);
  });
  worker?.on('error', (err) => {
    process.stderr.write(`floor's SQLite worker: ${err?.stack ?? err}\n`);
    process.exit(1);
  });
  const flush = () => {
    if (busy || queue.length === 0) return;
    busy = true;
    commits++;
    if (worker) flushToWorker();
    else flushOnLoop();
  };
  const enqueue = (job) => {
    if (synchronous === 'none') {
      job.done(NO_ROWS);
      return;
    }
    queue.push(job);
    if (queue.length === 1 && !busy) setImmediate(flush);
  };

  // SMPP: one transceiver session, `window` submits in flight, the rest queued in order
  const session = smpp.connect({ url: `smpp://127.0.0.1:${smscPort}` });
  await new Promise((resolve, reject) => {
    session.once('error', reject);
    session.bind_transceiver({ system_id: 'bridge', password: 'secret' }, (pdu) =>
      pdu.command_status === 0 ? resolve() : reject(new Error(`bind: ${pdu.command_status}`)),
    );
  });
  let inFlight = 0;
  const waiting = [];
  const submit = (to, text, smsId) => {
    if (inFlight >= window) {
      waiting.push([to, text, smsId]);
      return;
    }
    inFlight++;
    session.submit_sm(
      { source_addr: 'BRIDGE', destination_addr: to, short_message: text, registered_delivery: 1 },
      (resp) => {
        inFlight--;
        if (resp.command_status === 0) {
          const messageId = resp.message_id;
          enqueue({
            op: [SUBMITTED, messageId, smsId],
            done: () =>
              logger?.info({ sms_id: smsId, to, state: 'submitted', rule: 'bench' }, 'SMS submitted'),
          });
        }
        const next = waiting.shift();
        if (next) submit(...next);
      },
    );
  };

  const retained = has.has('retained');
  const aedes = await Aedes.createBroker({
    authorizePublish: (client, packet, callback) => {
      // the bridge's own publishes (commands) and anything that is not an alert: straight through
      if (!client || !packet.topic.startsWith('devices/') || !packet.topic.includes('/alerts/')) {
        callback(null);
        return;
      }
      const device = packet.topic.slice(8, packet.topic.indexOf('/', 8));
      const text = `A${JSON.parse(packet.payload.toString('utf8')).n}`;
      enqueue({
        op: [ALERT, device, text],
        done: ({ alert, smsId }) => {
          callback(null);
          if (retained) {
            const payload = JSON.stringify({
              id: Number(alert.id),
              rule: 'bench',
              device,
              state: 'open',
              count: alert.count,
              opened_at: new Date(alert.opened_at).toISOString(),
            });
            aedes.publish(
              { cmd: 'publish', topic: `sms-bridge/alerts/${alert.id}`, payload, qos: 1, retain: true },
              () => undefined,
            );
          }
          logger?.info(
            { sms_id: smsId, to: '+447700900001', state: 'queued', rule: 'bench', device },
            'SMS queued',
          );
          submit('+447700900001', text, smsId);
        },
      });
    },
  });
  const server = createServer(aedes.handle);
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));

  session.on('deliver_sm', (pdu) => {
    // international numbers arrive without their `+` (source_addr_ton 1), as the bridge reads them
    const from = pdu.source_addr_ton === 1 ? `+${pdu.source_addr}` : pdu.source_addr;
    const text = String(pdu.short_message?.message ?? pdu.short_message ?? '');
    const [device, command, value] = text.split(' ');
    const payload = JSON.stringify({ command, args: { value: Number(value) }, from });
    const reply = `sent ${command} to ${device}`;
    enqueue({
      op: [INBOUND, from, text, device, payload, reply],
      done: () => {
        aedes.publish(
          { cmd: 'publish', topic: `devices/${device}/commands`, payload, qos: 1, retain: false },
          () => undefined,
        );
        session.send(pdu.response());
        submit(from, reply, 0);
      },
    });
  });

  return {
    port: server.address().port,
    // group commits so far, and the WAL file's size (all it was written, while no checkpoint restarts it)
    counters: () => ({
      commits,
      walBytes: synchronous === 'none' ? 0 : statSync(join(dir, 'floor.db-wal')).size,
    }),
    stop: () =>
      new Promise((resolve) => {
        session.close();
        server.close();
        aedes.close(() => {
          if (worker) {
            worker.once('message', () => worker.terminate().then(() => resolve()));
            worker.postMessage('close');
            return;
          }
          store?.db.close();
          resolve();
        });
      }),
  };
}
