import type Database from 'better-sqlite3';

/** Ordered schema migrations; `PRAGMA user_version` records how many have run. */
export const MIGRATIONS: string[] = [
  `
  CREATE TABLE sms (
    id INTEGER PRIMARY KEY,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    to_number TEXT NOT NULL,
    text TEXT NOT NULL,
    priority TEXT NOT NULL,
    source TEXT NOT NULL,
    rule_id TEXT,
    device_id TEXT,
    alert_ref TEXT,
    expires_at INTEGER NOT NULL,
    max_parts INTEGER,
    registered_delivery INTEGER,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    connection_id TEXT,
    error_code INTEGER,
    error TEXT,
    parts_total INTEGER NOT NULL DEFAULT 0,
    parts_delivered INTEGER NOT NULL DEFAULT 0,
    parts_failed INTEGER NOT NULL DEFAULT 0,
    submitted_at INTEGER,
    done_at INTEGER
  );
  CREATE INDEX sms_queued ON sms (id) WHERE state = 'queued';
  CREATE INDEX sms_state ON sms (state, id);
  CREATE TABLE sms_part (
    sms_id INTEGER NOT NULL REFERENCES sms (id),
    seq INTEGER NOT NULL,
    message_id TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'submitted',
    stat TEXT,
    error_code INTEGER,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (sms_id, seq)
  );
  CREATE TABLE message_id_form (
    form TEXT NOT NULL,
    sms_id INTEGER NOT NULL,
    seq INTEGER NOT NULL
  );
  CREATE INDEX message_id_form_form ON message_id_form (form);
  -- A receipt can arrive before its submit_sm_resp is recorded (fast SMSCs, multi-part SMS):
  -- it is parked here and applied when the message id is recorded.
  CREATE TABLE early_receipt (
    form TEXT NOT NULL,
    state TEXT NOT NULL,
    stat TEXT NOT NULL,
    error_code INTEGER,
    received_at INTEGER NOT NULL
  );
  CREATE INDEX early_receipt_form ON early_receipt (form);
  `,
  // inbound SMS: audit of every MO with its outcome, parts of concatenated MO until complete, and
  // commands waiting for their result from the device
  `
  CREATE TABLE inbound_sms (
    id INTEGER PRIMARY KEY,
    received_at INTEGER NOT NULL,
    from_number TEXT NOT NULL,
    to_number TEXT NOT NULL,
    text TEXT NOT NULL,
    dedupe_key TEXT NOT NULL,
    outcome TEXT NOT NULL,
    detail TEXT,
    device_id TEXT,
    request_id TEXT
  );
  CREATE INDEX inbound_sms_dedupe ON inbound_sms (dedupe_key, received_at);
  CREATE TABLE mo_part (
    from_number TEXT NOT NULL,
    ref INTEGER NOT NULL,
    total INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    data_coding INTEGER NOT NULL,
    body BLOB NOT NULL,
    received_at INTEGER NOT NULL,
    PRIMARY KEY (from_number, ref, total, seq)
  );
  CREATE TABLE command_request (
    request_id TEXT PRIMARY KEY,
    device_id TEXT NOT NULL,
    command TEXT NOT NULL,
    from_number TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    result_at INTEGER
  );
  `,
  // alert lifecycle and policies (src/alerts)
  `
  CREATE TABLE alert (
    id INTEGER PRIMARY KEY,
    ref TEXT NOT NULL,
    rule_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    label TEXT NOT NULL,
    state TEXT NOT NULL,
    priority TEXT NOT NULL,
    text TEXT NOT NULL,
    opened_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    last_sent_at INTEGER,
    count INTEGER NOT NULL,
    step INTEGER NOT NULL,
    next_escalation_at INTEGER,
    receipt_due_at INTEGER,
    acked_by TEXT,
    acked_phone TEXT,
    acked_at INTEGER,
    resolved_at INTEGER,
    resolve_reason TEXT
  );
  CREATE INDEX alert_live ON alert (state) WHERE state <> 'resolved';
  CREATE TABLE alert_recipient (
    alert_id INTEGER NOT NULL REFERENCES alert (id),
    phone TEXT NOT NULL,
    contact_id TEXT,
    name TEXT,
    step INTEGER NOT NULL,
    sms_id INTEGER,
    sms_state TEXT,
    told_at INTEGER,
    PRIMARY KEY (alert_id, phone)
  );
  CREATE TABLE alert_held (
    id INTEGER PRIMARY KEY,
    phone TEXT NOT NULL,
    contact_id TEXT,
    name TEXT,
    alert_id INTEGER NOT NULL,
    step INTEGER NOT NULL,
    priority TEXT NOT NULL,
    held_at INTEGER NOT NULL,
    flush_at INTEGER NOT NULL
  );
  CREATE TABLE alert_sent (phone TEXT NOT NULL, at INTEGER NOT NULL);
  CREATE INDEX alert_sent_phone ON alert_sent (phone, at);
  `,
  // the transactional core: optimistic alert versions, the command outbox (a command is committed with its
  // audit row, then published), per-sender dedupe, small keyed state (telemetry), reply counts
  `
  ALTER TABLE alert ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
  ALTER TABLE command_request ADD COLUMN topic TEXT;
  ALTER TABLE command_request ADD COLUMN payload TEXT;
  ALTER TABLE command_request ADD COLUMN published_at INTEGER;
  UPDATE command_request SET published_at = created_at;
  CREATE INDEX command_unpublished ON command_request (created_at) WHERE published_at IS NULL;
  CREATE TABLE inbound_last (
    from_number TEXT PRIMARY KEY,
    dedupe_key TEXT NOT NULL,
    received_at INTEGER NOT NULL
  );
  CREATE TABLE kv (
    scope TEXT NOT NULL,
    key TEXT NOT NULL,
    value BLOB NOT NULL,
    at INTEGER NOT NULL,
    PRIMARY KEY (scope, key)
  );
  CREATE INDEX sms_replies ON sms (to_number, created_at) WHERE source = 'reply';
  `,
  // receipts matched exactly first, per connection: each part keeps the id as the SMSC gave it plus one other
  // reading; early receipts are parked with the keys they can be found by
  `
  ALTER TABLE sms_part ADD COLUMN connection_id TEXT;
  ALTER TABLE sms_part ADD COLUMN message_id_alt TEXT;
  UPDATE sms_part SET connection_id = (SELECT connection_id FROM sms WHERE sms.id = sms_part.sms_id),
    message_id_alt = lower(message_id);
  CREATE INDEX sms_part_exact ON sms_part (connection_id, message_id) WHERE state = 'submitted';
  CREATE INDEX sms_part_alt ON sms_part (connection_id, message_id_alt) WHERE state = 'submitted';
  DROP TABLE message_id_form;
  DROP TABLE early_receipt;
  CREATE TABLE receipt_parked (
    id INTEGER PRIMARY KEY,
    connection_id TEXT NOT NULL,
    receipt_id TEXT NOT NULL,
    format TEXT NOT NULL,
    state TEXT NOT NULL,
    stat TEXT NOT NULL,
    error_code INTEGER,
    received_at INTEGER NOT NULL
  );
  CREATE TABLE receipt_parked_key (
    parked_id INTEGER NOT NULL REFERENCES receipt_parked (id) ON DELETE CASCADE,
    connection_id TEXT NOT NULL,
    key TEXT NOT NULL,
    kind TEXT NOT NULL
  );
  CREATE INDEX receipt_parked_key_key ON receipt_parked_key (connection_id, key, kind);
  CREATE INDEX receipt_parked_key_parked ON receipt_parked_key (parked_id);
  `,
  // which bridge instance owns a resource (an SMPP connection) until when
  `
  CREATE TABLE lease (
    name TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    expires_at INTEGER NOT NULL
  );
  `,
  // cluster mode: a queued SMS is claimed by one instance at a time, until its claim expires
  `
  ALTER TABLE sms ADD COLUMN claim_owner TEXT;
  ALTER TABLE sms ADD COLUMN claim_until INTEGER;
  CREATE INDEX sms_claimed ON sms (claim_owner) WHERE state = 'queued';
  `,
  // instances sharing a store: one live alert per rule and device, one live alert per ref, so two decisions
  // made from stale books cannot both open an alert (the loser's transaction fails and it decides again)
  `
  CREATE UNIQUE INDEX alert_live_key ON alert (rule_id, device_id) WHERE state <> 'resolved';
  CREATE UNIQUE INDEX alert_live_ref ON alert (ref) WHERE state <> 'resolved';
  `,
  // two index updates fewer per SMS: queued SMS in id order are in sms_state (state, id) already, and an SMS no
  // instance claimed (a single instance never claims) stays out of sms_claimed
  `
  DROP INDEX sms_queued;
  DROP INDEX sms_claimed;
  CREATE INDEX sms_claimed ON sms (claim_owner) WHERE state = 'queued' AND claim_owner IS NOT NULL;
  `,
  // two index updates fewer per alert SMS, read by no query: the live alerts are in alert_live_key and
  // alert_live_ref (same condition; the start's scan of live alerts reads the table either way), and the caps
  // read alert_sent by time (the start's load and prune scan it), never by phone
  `
  DROP INDEX alert_live;
  DROP INDEX alert_sent_phone;
  `,
  // an SMS of one part whose id has no other reading than itself (nearly all) keeps that part in its own row:
  // one index update per submit instead of an sms_part row (its table, key and two indexes). `part_state` is
  // the part's state ('submitted' until its receipt); NULL when the SMS's parts are in sms_part. In this form
  // `message_id_alt` is NULL (no other reading kept) or the same as `message_id`. Older rows stay in sms_part.
  `
  ALTER TABLE sms ADD COLUMN message_id TEXT;
  ALTER TABLE sms ADD COLUMN message_id_alt TEXT;
  ALTER TABLE sms ADD COLUMN part_state TEXT;
  CREATE INDEX sms_message ON sms (connection_id, message_id) WHERE part_state = 'submitted';
  `,
];

/**
 * Runs the migrations this database has not seen, each in its own transaction. Each takes the write lock first
 * (`BEGIN IMMEDIATE`) and reads the version under it: instances starting at once on one file (a cluster on
 * SQLite) run each migration once; one that read the version before another migrated would otherwise create a
 * table that exists ("table sms already exists") and fail to start.
 */
export function migrate(db: Database.Database): void {
  const version = () => db.pragma('user_version', { simple: true }) as number;
  const step = db.transaction((): boolean => {
    const v = version();
    if (v >= MIGRATIONS.length) return false;
    db.exec(MIGRATIONS[v]!);
    db.pragma(`user_version = ${v + 1}`);
    return true;
  });
  // an up-to-date database (every start after the first) takes no write lock
  let more = version() < MIGRATIONS.length;
  while (more) more = step.immediate();
}
