import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { PostgresStore } from '../../src/store/postgres/postgres-store.js';
import { usePostgres } from '../helpers/postgres.js';
import { exerciseStore } from '../helpers/store-exercise.js';

/**
 * Every index costs PostgreSQL an insert per row written (and per row updated off its page), so the migrations
 * keep only those a query reads. What the store reads or changes on the tables that grow with every SMS and
 * alert must still be found through an index, not a sequential scan, on a database with rows as one in service
 * holds them (the planner prices a scan of a few rows below any index).
 */
const GROWING = /Seq Scan on (sms|sms_part|alert|alert_recipient) /;
/** Reads that take a whole growing table by design, with why (each must still be reached by the exercise). */
const WHOLE_READS: Array<[sql: RegExp, name: string]> = [
  // the counts by state (metrics, status page; throttled)
  [/^SELECT state, COUNT\(\*\) AS n FROM sms GROUP BY state$/, 'counts'],
];

/** Each statement run through pg's clients (the store's pool), with the values of its first run. */
async function statementsRun(fn: () => Promise<void>): Promise<Map<string, unknown[]>> {
  const proto = pg.Client.prototype as unknown as { query: (...args: unknown[]) => unknown };
  const original = proto.query;
  const seen = new Map<string, unknown[]>();
  proto.query = function (this: unknown, ...args: unknown[]) {
    const [text, values] = args;
    if (typeof text === 'string' && !seen.has(text)) seen.set(text, Array.isArray(values) ? values : []);
    return original.apply(this, args);
  };
  try {
    await fn();
  } finally {
    proto.query = original;
  }
  return seen;
}

describe('PostgreSQL store: every statement it runs on the growing tables', () => {
  const server = usePostgres();

  it('can be served by an index, except the listed whole reads', async () => {
    const url = await server.createDatabase();
    const store = new PostgresStore({ url, poolSize: 2 });
    await store.start();
    const seen = await statementsRun(() => exerciseStore(store));
    await store.stop();
    const client = new pg.Client(url);
    await client.connect();
    try {
      // rows as a bridge that has run for a while holds them: SMS and their parts mostly settled, alerts mostly
      // resolved, so that the planner prices a scan against an index as it will in service
      await client.query(`INSERT INTO sms (created_at, updated_at, to_number, text, priority, source, expires_at,
          state, connection_id, parts_total, submitted_at)
        SELECT g, g, '+4477009' || lpad((g % 1000)::text, 5, '0'), 'text', 'normal', 'rule:rule', g,
          CASE WHEN g % 100 = 0 THEN 'queued' ELSE 'delivered' END, 'main', 2, g
        FROM generate_series(1, 20000) g`);
      await client.query(`INSERT INTO sms_part (sms_id, seq, message_id, message_id_alt, connection_id, state,
          updated_at)
        SELECT id, s, id::text || '-' || s, id::text || '-' || s, 'main', 'delivered', 1
        FROM sms, generate_series(1, 2) s WHERE state = 'delivered' AND expires_at <= 20000`);
      await client.query(`INSERT INTO alert (id, ref, rule_id, device_id, label, state, priority, text, opened_at,
          updated_at, last_seen_at, count, step)
        SELECT g, g::text, 'rule', 'device-' || g, 'label', 'resolved', 'high', 'text', 1, 1, 1, 1, 0
        FROM generate_series(100000, 110000) g`);
      await client.query(`INSERT INTO alert_recipient (alert_id, phone, step)
        SELECT id, '+447700900001', 0 FROM alert WHERE id >= 100000`);
      await client.query('ANALYZE');
      const scans: string[] = [];
      const allowed = new Set<string>();
      for (const [sql, values] of seen) {
        const flat = sql.replace(/\s+/g, ' ').trim();
        if (!/^(SELECT|UPDATE|DELETE)\b/i.test(flat)) continue;
        await client.query('BEGIN');
        const { rows } = await client.query(`EXPLAIN ${sql}`, values);
        await client.query('ROLLBACK');
        const plan = rows.map((r: Record<string, string>) => r['QUERY PLAN']!.trim());
        if (!plan.some((line) => GROWING.test(line))) continue;
        const whole = WHOLE_READS.find(([re]) => re.test(flat));
        if (whole) allowed.add(whole[1]);
        else scans.push(`${flat} => ${plan.join(' / ')}`);
      }
      expect(scans).toEqual([]);
      const ran = [...seen.keys()].map((sql) => sql.replace(/\s+/g, ' '));
      for (const needle of [
        "FROM sms WHERE state = 'queued' ORDER BY id", // the restart's pending SMS
        "SELECT id FROM sms WHERE state = 'queued'", // the claims' queued scan
        'FROM sms_part WHERE connection_id = $1 AND message_id = ANY', // a receipt by message id
        "SELECT * FROM alert WHERE state <> 'resolved' AND ((rule_id, device_id)", // live alerts by key or ref
      ]) {
        expect(
          ran.some((sql) => sql.includes(needle)),
          needle,
        ).toBe(true);
      }
      expect([...allowed]).toEqual(['counts']);
    } finally {
      await client.end();
      await server.dropDatabase(url);
    }
  });
});
