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
];
