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
import { fsync, openSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pino from 'pino';
import smpp from 'smpp';

export async function startFloor({ smscPort, synchronous = 'full', window = 100, dir, extras = [] }) {
  const has = new Set(extras);
  const { Aedes } = await import('aedes');
  const db = new Database(join(dir, 'floor.db'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  // no checkpoints during a run (the bridge runs them on a worker thread): a checkpoint inside COMMIT would hold
  // the event loop for milliseconds, a cost the floor should not have; with `checkpoint`, SQLite's default
  db.pragma(`wal_autocheckpoint = ${has.has('checkpoint') ? 1000 : 0}`);
  db.exec(`CREATE TABLE alert (id INTEGER PRIMARY KEY, rule_id TEXT, device_id TEXT, state TEXT, text TEXT,
    opened_at INTEGER, updated_at INTEGER);
  CREATE TABLE sms (id INTEGER PRIMARY KEY, to_number TEXT, text TEXT, state TEXT, alert_id INTEGER,
    created_at INTEGER, updated_at INTEGER, message_id TEXT);
  CREATE INDEX sms_state ON sms (state, id);
  CREATE TABLE inbound (id INTEGER PRIMARY KEY, received_at INTEGER, from_number TEXT, text TEXT, outcome TEXT,
    device_id TEXT);
  CREATE TABLE command (id INTEGER PRIMARY KEY, device_id TEXT, payload TEXT, state TEXT);`);
  if (has.has('alertstate')) {
    db.exec(`ALTER TABLE alert ADD COLUMN count INTEGER NOT NULL DEFAULT 1;
    CREATE UNIQUE INDEX alert_live ON alert (rule_id, device_id) WHERE state <> 'resolved';`);
  }
  if (has.has('policy')) {
    db.exec(`CREATE TABLE alert_recipient (alert_id INTEGER NOT NULL, phone TEXT NOT NULL, step INTEGER NOT NULL,
      sms_id INTEGER, told_at INTEGER, PRIMARY KEY (alert_id, phone)) WITHOUT ROWID;
    CREATE TABLE alert_sent (phone TEXT NOT NULL, at INTEGER NOT NULL);`);
  }
  if (has.has('receipts'))
    db.exec("CREATE INDEX sms_message_id ON sms (message_id) WHERE state = 'submitted'");
  const logger = has.has('log')
    ? pino({ level: 'info' }, pino.destination({ dest: '/dev/null', sync: false }))
    : undefined;
  const walFd = openSync(join(dir, 'floor.db-wal'), 'r');
  const st = {
    alert: db.prepare(
      "INSERT INTO alert (rule_id, device_id, state, text, opened_at, updated_at) VALUES ('bench', ?, 'open', ?, ?, ?)",
    ),
    sms: db.prepare("INSERT INTO sms VALUES (NULL, ?, ?, 'queued', ?, ?, ?, NULL)"),
    submitted: db.prepare("UPDATE sms SET state = 'submitted', message_id = ?, updated_at = ? WHERE id = ?"),
    inbound: db.prepare("INSERT INTO inbound VALUES (NULL, ?, ?, ?, 'command', ?)"),
    command: db.prepare("INSERT INTO command VALUES (NULL, ?, ?, 'queued')"),
    begin: db.prepare('BEGIN'),
    commit: db.prepare('COMMIT'),
    savepoint: db.prepare('SAVEPOINT w'),
    release: db.prepare('RELEASE w'),
    ...(has.has('alertstate')
      ? {
          upsert: db.prepare(`INSERT INTO alert (rule_id, device_id, state, text, opened_at, updated_at)
            VALUES ('bench', ?, 'open', ?, ?, ?)
            ON CONFLICT (rule_id, device_id) WHERE state <> 'resolved'
            DO UPDATE SET count = count + 1, text = excluded.text, updated_at = excluded.updated_at
            RETURNING id, count, opened_at`),
        }
      : {}),
    ...(has.has('policy')
      ? {
          recipient: db.prepare('INSERT OR REPLACE INTO alert_recipient VALUES (?, ?, 0, ?, ?)'),
          sent: db.prepare('INSERT INTO alert_sent VALUES (?, ?)'),
        }
      : {}),
  };
  const savepoints = has.has('savepoint');

  // One group commit at a time: work asked for during a commit's fsync waits and commits with the next batch.
  let queue = [];
  let busy = false;
  const flush = () => {
    if (busy || queue.length === 0) return;
    busy = true;
    const batch = queue;
    queue = [];
    const now = Date.now();
    st.begin.run();
    for (const job of batch) {
      if (savepoints) st.savepoint.run();
      job.write(now);
      if (savepoints) st.release.run();
    }
    st.commit.run();
    const settle = () => {
      busy = false;
      for (const job of batch) job.done();
      if (queue.length > 0) setImmediate(flush);
    };
    if (synchronous === 'full') fsync(walFd, settle);
    else settle();
  };
  const enqueue = (job) => {
    if (synchronous === 'none') {
      job.done();
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
            write: (now) => st.submitted.run(messageId, now, smsId),
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
      let smsId;
      let alert;
      enqueue({
        write: (now) => {
          if (st.upsert) alert = st.upsert.get(device, text, now, now);
          else alert = { id: st.alert.run(device, text, now, now).lastInsertRowid, count: 1, opened_at: now };
          smsId = st.sms.run('+447700900001', text, alert.id, now, now).lastInsertRowid;
          if (st.recipient) {
            st.recipient.run(alert.id, '+447700900001', smsId, now);
            st.sent.run('+447700900001', now);
          }
        },
        done: () => {
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
    enqueue({
      write: (now) => {
        st.inbound.run(now, from, text, device);
        st.command.run(device, payload);
        st.sms.run(from, `sent ${command} to ${device}`, null, now, now);
      },
      done: () => {
        aedes.publish(
          { cmd: 'publish', topic: `devices/${device}/commands`, payload, qos: 1, retain: false },
          () => undefined,
        );
        session.send(pdu.response());
        submit(from, `sent ${command} to ${device}`, 0);
      },
    });
  });

  return {
    port: server.address().port,
    stop: () =>
      new Promise((resolve) => {
        session.close();
        server.close();
        aedes.close(() => {
          db.close();
          resolve();
        });
      }),
  };
}
