import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { migrate } from '../../../src/store/sqlite/migrations.js';
import { SqliteStore } from '../../../src/store/sqlite/sqlite-store.js';
import { exerciseStore } from '../../helpers/store-exercise.js';

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

/**
 * The tables that grow with every SMS and alert. A statement of the store may read one of them (or one of its
 * indexes) whole only if it is listed in WHOLE_READS; every other one must search an index (or the rowid) for
 * what it reads or changes.
 */
const GROWING = /^SCAN (sms|sms_part|alert|alert_recipient)\b/;
const WHOLE_READS: Array<[sql: RegExp, name: string, plan?: RegExp]> = [
  // the newest row (allocate, the start's last ref): the rowid b-tree from its end, one row read
  [/^SELECT (id, )?ref FROM alert ORDER BY id DESC LIMIT 1$/, 'newest alert'],
  // the start's live alerts: the table either way (its partial indexes hold the live ones, not their rows)
  [/^SELECT \* FROM alert WHERE state <> 'resolved' ORDER BY id$/, 'live alerts at start'],
  // the admin API's newest SMS, all or to one number (no index on to_number: it would cost every SMS an
  // index update), newest first until `limit`
  [/^SELECT .* FROM sms (WHERE to_number = \? )?ORDER BY id DESC LIMIT \?$/, 'admin list'],
  // the counts by state (metrics, status page; throttled): the state index, which is ~15 bytes a row
  [
    /^SELECT state, COUNT\(\*\) AS n FROM sms GROUP BY state$/,
    'counts',
    /^SCAN sms USING COVERING INDEX sms_state$/,
  ],
];

/** Each statement the store prepared, with the arguments of its first run (better-sqlite3's own prototype). */
async function statementsRun(fn: () => Promise<void>): Promise<Map<string, unknown[]>> {
  const probe = new Database(':memory:');
  const proto = Object.getPrototypeOf(probe.prepare('SELECT 1')) as Record<string, unknown>;
  probe.close();
  const seen = new Map<string, unknown[]>();
  const methods = ['run', 'get', 'all', 'iterate'] as const;
  const originals = methods.map((m) => proto[m] as (...args: unknown[]) => unknown);
  methods.forEach((m, i) => {
    proto[m] = function (this: { source: string }, ...args: unknown[]) {
      if (!seen.has(this.source)) seen.set(this.source, args);
      return originals[i]!.apply(this, args);
    };
  });
  try {
    await fn();
  } finally {
    methods.forEach((m, i) => {
      proto[m] = originals[i];
    });
  }
  return seen;
}

describe('SQLite store: every statement it runs on the growing tables', () => {
  it('searches an index or the rowid, except the listed whole reads', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'query-plans-'));
    try {
      const path = join(dir, 'bridge.db');
      const store = new SqliteStore({ path });
      await store.start();
      const seen = await statementsRun(() => exerciseStore(store));
      await store.stop();
      const db = new Database(path, { readonly: true });
      const scans: string[] = [];
      const allowed = new Set<string>();
      for (const [sql, args] of seen) {
        const flat = sql.replace(/\s+/g, ' ').trim();
        const plan = db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...args) as Array<{ detail: string }>;
        if (!plan.some((row) => GROWING.test(row.detail))) continue;
        const whole = WHOLE_READS.find(
          ([re, , how]) => re.test(flat) && (!how || plan.every((row) => how.test(row.detail))),
        );
        if (whole) allowed.add(whole[1]);
        else scans.push(`${flat} => ${plan.map((row) => row.detail).join(' | ')}`);
      }
      db.close();
      expect(scans).toEqual([]);
      // the exercise reached the statements these tests are about (a store that ran none would pass above)
      const ran = [...seen.keys()].map((sql) => sql.replace(/\s+/g, ' '));
      for (const needle of [
        "FROM sms WHERE state = 'queued' ORDER BY id", // the restart's pending SMS
        "SELECT id FROM sms WHERE state = 'queued'", // the claims' queued scan
        'FROM sms WHERE connection_id = ? AND message_id = ?', // a receipt by message id, the part in the row
        'FROM sms_part WHERE connection_id = ? AND message_id = ?', // ... and in sms_part
        "FROM alert WHERE state <> 'resolved' AND rule_id = ?", // the live alert by rule and device
        "FROM alert WHERE state <> 'resolved' AND ref = ?", // ... by ref
      ]) {
        expect(
          ran.some((sql) => sql.includes(needle)),
          needle,
        ).toBe(true);
      }
      // the counts by state run on StateCounter's worker thread, whose connection this does not record (their
      // plan, the covering read of sms_state, is pinned above); on the store's own only when that worker cannot run
      expect([...allowed].sort()).toEqual(['admin list', 'live alerts at start', 'newest alert']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
