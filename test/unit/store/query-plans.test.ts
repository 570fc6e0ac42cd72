import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { migrate } from '../../../src/store/sqlite/migrations.js';

/**
 * Every index the SQLite store keeps costs an update per row written (the alert -> SMS path writes ~6 rows per
 * SMS), so the migrations drop the ones no query reads. What the store looks rows up by must still be an index
 * search, not a scan of a table that grows with every SMS: the lookups below are the store's own SQL
 * (src/store/sqlite/outbox.ts, alerts.ts, claims.ts), each with the index it must use.
 */
const SEARCHES: Array<[sql: string, index: string]> = [
  // the sender's queue at start, the admin API's counts and lists by state
  [`SELECT id FROM sms WHERE state = 'queued' ORDER BY id`, 'sms_state'],
  [`SELECT state, COUNT(*) AS n FROM sms GROUP BY state`, 'sms_state'],
  [`SELECT id FROM sms WHERE state = ? ORDER BY id DESC LIMIT ?`, 'sms_state'],
  // the reply limit per number
  [
    `SELECT COUNT(*) AS n FROM sms WHERE to_number = ? AND source = 'reply' AND created_at >= ?`,
    'sms_replies',
  ],
  // a receipt finds its part by either reading of its message id
  [
    `SELECT sms_id, seq FROM sms_part WHERE connection_id = ? AND message_id = ? AND state = 'submitted' AND updated_at >= ?`,
    'sms_part_exact',
  ],
  [
    `SELECT sms_id, seq FROM sms_part WHERE connection_id = ? AND message_id_alt = ? AND state = 'submitted' AND updated_at >= ?`,
    'sms_part_alt',
  ],
  // ... or, for an SMS whose only part is in its own row, by its id (its other reading is the same)
  [
    `SELECT id FROM sms WHERE connection_id = ? AND message_id = ? AND part_state = 'submitted' AND submitted_at >= ?`,
    'sms_message',
  ],
  [
    `SELECT id FROM sms WHERE connection_id = ? AND message_id = ? AND part_state = 'submitted' AND message_id_alt IS NOT NULL AND submitted_at >= ?`,
    'sms_message',
  ],
  // an alert decision of instances sharing the store reads the live alert it touches under lock
  [`SELECT * FROM alert WHERE state <> 'resolved' AND rule_id = ? AND device_id = ?`, 'alert_live_key'],
  [`SELECT * FROM alert WHERE state <> 'resolved' AND ref = ?`, 'alert_live_ref'],
  [`SELECT * FROM alert_recipient WHERE alert_id = ?`, 'sqlite_autoindex_alert_recipient_1'],
];

function plan(db: Database.Database, sql: string): string {
  const args = Array.from(sql.match(/\?/g) ?? [], () => 'x');
  const rows = db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...args) as Array<{ detail: string }>;
  return rows.map((r) => r.detail).join(' | ');
}

describe('SQLite store: query plans after the migrations', () => {
  it.each(SEARCHES)('%s reads index %s', (sql, index) => {
    const db = new Database(':memory:');
    migrate(db);
    const detail = plan(db, sql);
    expect(detail).toMatch(new RegExp(`(SEARCH|SCAN) \\w+ USING (COVERING )?INDEX ${index}\\b`));
    expect(detail).not.toMatch(/TEMP B-TREE/);
    db.close();
  });

  it('keeps no index on the alert tables that no query reads', () => {
    const db = new Database(':memory:');
    migrate(db);
    const indexes = (
      db
        .prepare(
          `SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name IN ('alert', 'alert_sent') ORDER BY name`,
        )
        .all() as Array<{ name: string }>
    ).map((r) => r.name);
    // alert_live_key and alert_live_ref: the lookups above, and one live alert per rule and device, per ref
    expect(indexes).toEqual(['alert_live_key', 'alert_live_ref']);
    db.close();
  });
});
