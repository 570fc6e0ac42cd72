// The alert -> SMS path's statements alone, on better-sqlite3 with no code of ours around them: the bridge's schema
// (this tree's migrations) and SQL, against the floor's with the features (floor-pipeline.mjs `savepoint`,
// `alertstate`, `policy`, `receipts`: its schema and statements, copied), and variants of the bridge's schema.
// Each variant its own database (WAL, synchronous NORMAL, temp_store MEMORY, checkpoint between rounds), alternated
// per round in one process: median CPU per SMS, per-round ratio to the first, WAL frames per SMS.
//   node bench/lib/write-mix.mjs [rounds=12] [size=2048] [decisions per commit=512] [submits per commit=64] [variants]
// variants (comma-separated, the first is the base): bridge, noref (alert_live_ref dropped), fkoff (foreign_keys
// OFF), norowid (alert_recipient WITHOUT ROWID), floor. Device names as benchmark 2 sends them (alerts-c<k>x<n>).
// TAG=1: each variant's SQL starts with `/* <variant> */`, so that `--require bench/lib/stmt-time.cjs` (STMT_OUT=...)
// times the same statement of each variant apart, all in one process.
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';

const { migrate } = await import(join(process.cwd(), 'dist/store/sqlite/migrations.js'));
const [rounds = 12, size = 2048, decisionsPerCommit = 512, submitsPerCommit = 64] = process.argv
  .slice(2, 6)
  .map(Number);
const chosen = (process.argv[6] ?? 'bridge,noref,fkoff,floor').split(',');

// src/store/sqlite/outbox.ts (insert, submittedOwnSeen) and alerts.ts (INSERT_ALERT, the recipient upsert)
const BRIDGE_SQL = {
  sms: `INSERT INTO sms (created_at, updated_at, to_number, text, priority, source, rule_id, device_id, alert_ref,
    expires_at, max_parts, registered_delivery, state, attempts, parts_total, parts_delivered, parts_failed)
   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'queued', 0, 0, 0, 0)`,
  alert: `INSERT INTO alert (id, ref, rule_id, device_id, label, state, priority, text, opened_at, updated_at,
  last_seen_at, last_sent_at, count, step, next_escalation_at, receipt_due_at, acked_by, acked_phone, acked_at,
  resolved_at, resolve_reason, version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  recipient: `INSERT INTO alert_recipient (alert_id, phone, contact_id, name, step, sms_id, sms_state, told_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (alert_id, phone) DO UPDATE SET contact_id = excluded.contact_id, name = excluded.name,
        step = excluded.step, sms_id = COALESCE(excluded.sms_id, sms_id),
        sms_state = COALESCE(excluded.sms_state, sms_state), told_at = COALESCE(excluded.told_at, told_at)`,
  sent: 'INSERT INTO alert_sent (phone, at) VALUES (?, ?)',
  submit: `UPDATE sms SET state = 'submitted', connection_id = ?, parts_total = 1, attempts = attempts + 1,
    submitted_at = ?, updated_at = ?, error_code = NULL, error = NULL, message_id = ?, message_id_alt = ?,
    part_state = 'submitted'
   WHERE id = ? AND attempts = ? AND expires_at = ? AND parts_delivered = ? AND parts_failed = ?`,
};

/** The bridge: a savepoint per decision; a submit is `total_changes()` and its UPDATE (a oneWrite transaction). */
const bridge =
  ({ tweak = () => {}, foreignKeys = true } = {}) =>
  (db) => {
    migrate(db);
    db.pragma(`foreign_keys = ${foreignKeys ? 'ON' : 'OFF'}`);
    tweak(db);
    const st = Object.fromEntries(Object.entries(BRIDGE_SQL).map(([k, sql]) => [k, db.prepare(sql)]));
    const savepoint = db.prepare('SAVEPOINT w');
    const release = db.prepare('RELEASE w');
    const changes = db.prepare('SELECT total_changes()').pluck();
    return {
      decide(id, device, now) {
        savepoint.run();
        const expires = now + 3_600_000;
        const values = [now, now, '+447700900001', `A${id}`, 'normal', 'rule:bench', 'bench', device];
        const smsId = Number(st.sms.run(...values, String(id), expires, null, null).lastInsertRowid);
        const alert = [
          id,
          String(id),
          'bench',
          device,
          device,
          'open',
          'normal',
          `A${id}`,
          now,
          now,
          now,
          now,
        ];
        st.alert.run(...alert, 1, 0, null, null, null, null, null, null, null, 1);
        st.recipient.run(id, '+447700900001', 'alice', 'Alice', 0, smsId, null, now);
        st.sent.run('+447700900001', now);
        release.run();
        return { smsId, expires };
      },
      submit(s, now) {
        changes.get();
        const messageId = s.smsId.toString(16);
        st.submit.run('main', now, now, messageId, messageId, s.smsId, 0, s.expires, 0, 0);
      },
    };
  };

/** floor-pipeline.mjs with `savepoint`, `alertstate`, `policy`, `receipts`: its schema and statements. */
const floor = (db) => {
  db.exec(`CREATE TABLE alert (id INTEGER PRIMARY KEY, rule_id TEXT, device_id TEXT, state TEXT, text TEXT,
    opened_at INTEGER, updated_at INTEGER);
  CREATE TABLE sms (id INTEGER PRIMARY KEY, to_number TEXT, text TEXT, state TEXT, alert_id INTEGER,
    created_at INTEGER, updated_at INTEGER, message_id TEXT);
  CREATE INDEX sms_state ON sms (state, id);
  ALTER TABLE alert ADD COLUMN count INTEGER NOT NULL DEFAULT 1;
  CREATE UNIQUE INDEX alert_live ON alert (rule_id, device_id) WHERE state <> 'resolved';
  CREATE TABLE alert_recipient (alert_id INTEGER NOT NULL, phone TEXT NOT NULL, step INTEGER NOT NULL,
    sms_id INTEGER, told_at INTEGER, PRIMARY KEY (alert_id, phone)) WITHOUT ROWID;
  CREATE TABLE alert_sent (phone TEXT NOT NULL, at INTEGER NOT NULL);
  CREATE INDEX sms_message_id ON sms (message_id) WHERE state = 'submitted';`);
  const upsert = db.prepare(`INSERT INTO alert (rule_id, device_id, state, text, opened_at, updated_at)
    VALUES ('bench', ?, 'open', ?, ?, ?)
    ON CONFLICT (rule_id, device_id) WHERE state <> 'resolved'
    DO UPDATE SET count = count + 1, text = excluded.text, updated_at = excluded.updated_at
    RETURNING id, count, opened_at`);
  const sms = db.prepare("INSERT INTO sms VALUES (NULL, ?, ?, 'queued', ?, ?, ?, NULL)");
  const submitted = db.prepare(
    "UPDATE sms SET state = 'submitted', message_id = ?, updated_at = ? WHERE id = ?",
  );
  const recipient = db.prepare('INSERT OR REPLACE INTO alert_recipient VALUES (?, ?, 0, ?, ?)');
  const sent = db.prepare('INSERT INTO alert_sent VALUES (?, ?)');
  const savepoint = db.prepare('SAVEPOINT w');
  const release = db.prepare('RELEASE w');
  return {
    decide(id, device, now) {
      savepoint.run();
      const a = upsert.get(device, `A${id}`, now, now);
      const smsId = Number(sms.run('+447700900001', `A${id}`, a.id, now, now).lastInsertRowid);
      recipient.run(a.id, '+447700900001', smsId, now);
      sent.run('+447700900001', now);
      release.run();
      return { smsId };
    },
    submit(s, now) {
      savepoint.run();
      submitted.run(s.smsId.toString(16), now, s.smsId);
      release.run();
    },
  };
};

const VARIANTS = {
  bridge: bridge(),
  noref: bridge({ tweak: (db) => db.exec('DROP INDEX alert_live_ref') }),
  fkoff: bridge({ foreignKeys: false }),
  // alert_recipient as one b-tree (its key) instead of the rowid table and the key's index
  norowid: bridge({
    tweak: (db) =>
      db.exec(`DROP TABLE alert_recipient;
      CREATE TABLE alert_recipient (alert_id INTEGER NOT NULL REFERENCES alert (id), phone TEXT NOT NULL,
        contact_id TEXT, name TEXT, step INTEGER NOT NULL, sms_id INTEGER, sms_state TEXT, told_at INTEGER,
        PRIMARY KEY (alert_id, phone)) WITHOUT ROWID`),
  }),
  floor,
};
const dir = mkdtempSync(join(tmpdir(), 'write-mix-'));
const setups = chosen.map((name) => {
  const file = join(dir, `${name}.db`);
  const db = new Database(file);
  if (process.env.TAG === '1') {
    // each variant's SQL prefixed with its name, so stmt-time.cjs times each variant's statements apart
    const prepare = db.prepare.bind(db);
    db.prepare = (sql, ...rest) => prepare(`/* ${name} */ ${sql}`, ...rest);
  }
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('temp_store = MEMORY');
  db.pragma('wal_autocheckpoint = 0');
  const path = VARIANTS[name](db);
  const begin = db.prepare('BEGIN');
  const commit = db.prepare('COMMIT');
  let next = 1;
  const setup = { name, cpu: [], frames: 0 };
  setup.round = () => {
    const now = Date.now();
    const t = process.cpuUsage();
    const made = [];
    for (let i = 0; i < size; i += decisionsPerCommit) {
      begin.run();
      for (let k = 0; k < decisionsPerCommit; k++) {
        const id = next++;
        made.push(path.decide(id, `alerts-c${id % 50}x${Math.floor(id / 50)}`, now));
      }
      commit.run();
    }
    for (let i = 0; i < size; i += submitsPerCommit) {
      begin.run();
      for (const s of made.slice(i, i + submitsPerCommit)) path.submit(s, now);
      commit.run();
    }
    const d = process.cpuUsage(t);
    setup.frames = (statSync(`${file}-wal`).size - 32) / (4096 + 24) / size;
    db.pragma('wal_checkpoint(TRUNCATE)');
    return (d.user + d.system) / size;
  };
  setup.round(); // warm-up
  return setup;
});
for (let r = 0; r < rounds; r++) {
  for (let k = 0; k < setups.length; k++) {
    const s = setups[(k + r) % setups.length];
    s.cpu.push(s.round());
  }
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
for (const s of setups) {
  const ratio = median(s.cpu.map((c, i) => c / setups[0].cpu[i]));
  process.stdout.write(
    `${s.name.padEnd(7)} ${median(s.cpu).toFixed(1)} us CPU per SMS (median of ${rounds}), ` +
      `per round / ${setups[0].name}: median ${ratio.toFixed(3)}; WAL frames per SMS ${s.frames.toFixed(3)}\n`,
  );
}
rmSync(dir, { recursive: true, force: true });
