// The floor under benchmark 2 (alert -> SMS): what the libraries the bridge is built on cost per SMS on this
// machine, with none of our code around them. Each part is timed as CPU of this process per SMS:
//   sqlite  the fewest writes the guarantees allow, in better-sqlite3 directly: the alert row and the SMS row
//           committed (group commit of `batch`, WAL, synchronous NORMAL + one fsync per commit, as the store
//           does for `full`) before the submit, then the message id written after it (second commit)
//   smpp    the smpp package: submit_sm built and encoded, submit_sm_resp decoded (the client's side)
//   json    the status event of each state (queued, submitted): one JSON.stringify of a 20-key object each
// The MQTT side (a QoS 1 publish through bare aedes) is `node bench/ingest-cpu.mjs --qos=1`'s aedes figure.
//   node bench/floor.mjs [total=50000] [batch=64]
import { closeSync, fsyncSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import smpp from 'smpp';

const [total = 50_000, batch = 64] = process.argv.slice(2).map(Number);
const cpu = () => (({ user, system }) => user + system)(process.cpuUsage());
const out = (line) => process.stdout.write(`${line}\n`);
const perSms = (f) => {
  f(Math.min(5000, total)); // warm-up
  const t = cpu();
  f(total);
  return (cpu() - t) / total;
};

const dir = mkdtempSync(join(tmpdir(), 'sms-bridge-floor-'));
const path = join(dir, 'floor.db');
const db = new Database(path);
db.pragma('journal_mode = WAL');
db.pragma('synchronous = NORMAL');
db.exec(`CREATE TABLE alert (id INTEGER PRIMARY KEY, rule_id TEXT, device_id TEXT, state TEXT, text TEXT,
  opened_at INTEGER, updated_at INTEGER, count INTEGER, version INTEGER);
  CREATE TABLE sms (id INTEGER PRIMARY KEY, to_number TEXT, text TEXT, state TEXT, alert_id INTEGER,
  created_at INTEGER, updated_at INTEGER, message_id TEXT);
  CREATE INDEX sms_state ON sms (state, id);`);
const wal = openSync(`${path}-wal`, 'r');
const insAlert = db.prepare('INSERT INTO alert VALUES (NULL, ?, ?, ?, ?, ?, ?, 1, 1)');
const insSms = db.prepare("INSERT INTO sms VALUES (NULL, ?, ?, 'queued', ?, ?, ?, NULL)");
const submitted = db.prepare(
  "UPDATE sms SET state = 'submitted', message_id = ?, updated_at = ? WHERE id = ?",
);
const begin = db.prepare('BEGIN');
const commit = db.prepare('COMMIT');
let device = 0;
const sqlite = perSms((n) => {
  for (let i = 0; i < n; i += batch) {
    const ids = [];
    const now = Date.now();
    begin.run();
    for (let k = 0; k < batch && i + k < n; k++) {
      const a = insAlert.run('bench', `d${device}`, 'open', `A${device}`, now, now).lastInsertRowid;
      ids.push(insSms.run('+447700900001', `A${device++}`, a, now, now).lastInsertRowid);
    }
    commit.run();
    fsyncSync(wal);
    begin.run();
    for (const id of ids) submitted.run(`m${id}`, now, id);
    commit.run();
    fsyncSync(wal);
  }
});
closeSync(wal);
db.close();
rmSync(dir, { recursive: true, force: true });

let seq = 0;
const smppCost = perSms((n) => {
  for (let i = 0; i < n; i++) {
    const pdu = new smpp.PDU('submit_sm', {
      sequence_number: ++seq,
      source_addr: 'BRIDGE',
      source_addr_ton: 5,
      destination_addr: '447700900001',
      dest_addr_ton: 1,
      dest_addr_npi: 1,
      registered_delivery: 1,
      data_coding: 0,
      short_message: { message: Buffer.from(`ALERT pump ${i} pressure high`) },
    });
    pdu.toBuffer();
    const resp = new smpp.PDU('submit_sm_resp', { sequence_number: seq, message_id: `m${i}` }).toBuffer();
    smpp.PDU.fromBuffer(resp);
  }
});

const event = {
  id: 1,
  to: '+447700900001',
  from: 'BRIDGE',
  text: 'ALERT pump pressure high',
  state: 'queued',
  priority: 'normal',
  source: 'alert',
  rule: 'bench',
  device: 'd1',
  alert_ref: '12',
  attempts: 0,
  connection: null,
  error: null,
  error_code: null,
  parts: 1,
  delivered: 0,
  failed: 0,
  created_at: '2026-12-06T00:00:00.000Z',
  updated_at: '2026-12-06T00:00:00.000Z',
  at: '2026-12-06T00:00:00.000Z',
};
const json = perSms((n) => {
  for (let i = 0; i < n; i++) {
    event.id = i;
    JSON.stringify(event);
    JSON.stringify(event);
  }
});

out(`floor per SMS on this machine (${total} SMS, group commit ${batch}), CPU us of this process:`);
out(
  `  sqlite ${sqlite.toFixed(1)}  smpp ${smppCost.toFixed(1)}  json ${json.toFixed(1)}  sum ${(sqlite + smppCost + json).toFixed(1)}`,
);
