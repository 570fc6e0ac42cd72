// The end-to-end floor's SQLite part (bench/lib/floor-pipeline.mjs): its schema, statements and writes, shared by
// the floor that runs them on its event loop and by `floor-db-worker.mjs`, which runs them on a worker thread
// (`extras: ['worker']`). `has`: the floor's `extras` as a Set (their SQLite parts: savepoint, alertstate, policy,
// receipts, checkpoint).
import { openSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';

export function openFloorDb(dir, has) {
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
  return {
    db,
    walFd,
    st,
    savepoints: has.has('savepoint'),
    /** an alert's rows: its alert (new, or the live one updated) and its SMS; `{ alert, smsId }` */
    writeAlert(device, text, now) {
      const alert = st.upsert
        ? st.upsert.get(device, text, now, now)
        : { id: st.alert.run(device, text, now, now).lastInsertRowid, count: 1, opened_at: now };
      const smsId = st.sms.run('+447700900001', text, alert.id, now, now).lastInsertRowid;
      if (st.recipient) {
        st.recipient.run(alert.id, '+447700900001', smsId, now);
        st.sent.run('+447700900001', now);
      }
      return { alert, smsId };
    },
    writeSubmitted(messageId, now, smsId) {
      st.submitted.run(messageId, now, smsId);
    },
    writeInbound(now, from, text, device, payload, reply) {
      st.inbound.run(now, from, text, device);
      st.command.run(device, payload);
      st.sms.run(from, reply, null, now, now);
    },
  };
}
