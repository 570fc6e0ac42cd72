import { oldRows } from '../rows.js';
import type { HistoryKind, HistoryRepository } from '../store.js';
import type { Db } from './db.js';

/**
 * Tables with an identity key are read from their oldest row, as on SQLite (`../sqlite/history.ts`): `read`
 * takes (after, limit), or (before, after, limit) when it names $3.
 */
const KEYED: Partial<Record<HistoryKind, { read: string; remove: string[] }>> = {
  sms: {
    read: `SELECT id, created_at AS at, state <> 'queued' AS free FROM sms WHERE id > $1 ORDER BY id LIMIT $2`,
    remove: [
      'DELETE FROM sms_part WHERE sms_id = ANY($1::bigint[])',
      'DELETE FROM sms WHERE id = ANY($1::bigint[])',
    ],
  },
  alerts: {
    read: `SELECT id, opened_at AS at, state = 'resolved' AND resolved_at < $1 AS free FROM alert
      WHERE id > $2 ORDER BY id LIMIT $3`,
    remove: [
      'DELETE FROM alert_recipient WHERE alert_id = ANY($1::bigint[])',
      'DELETE FROM alert_held WHERE alert_id = ANY($1::bigint[])',
      'DELETE FROM alert WHERE id = ANY($1::bigint[])',
    ],
  },
  inbound: {
    read: 'SELECT id, received_at AS at, true AS free FROM inbound_sms WHERE id > $1 ORDER BY id LIMIT $2',
    remove: ['DELETE FROM inbound_sms WHERE id = ANY($1::bigint[])'],
  },
};

/** The others have no ordered key here: at most `limit` old rows at a time, until fewer are left. */
const UNKEYED: Partial<Record<HistoryKind, string>> = {
  commands: `DELETE FROM command_request WHERE request_id IN (SELECT request_id FROM command_request
    WHERE created_at < $1 AND published_at IS NOT NULL LIMIT $2)`,
  senders: `DELETE FROM inbound_last WHERE from_number IN (SELECT from_number FROM inbound_last
    WHERE received_at < $1 LIMIT $2)`,
  sent: 'DELETE FROM alert_sent WHERE ctid = ANY(ARRAY(SELECT ctid FROM alert_sent WHERE at < $1 LIMIT $2))',
};

export class PgHistory implements HistoryRepository {
  constructor(private readonly db: Db) {}

  async purge(
    kind: HistoryKind,
    before: number,
    after: number,
    limit: number,
  ): Promise<{ deleted: number; next: number; done: boolean }> {
    const unkeyed = UNKEYED[kind];
    if (unkeyed !== undefined) {
      const deleted = await this.db.run(unkeyed, [before, limit]);
      return { deleted, next: 0, done: deleted < limit };
    }
    const scan = KEYED[kind]!;
    const params = scan.read.includes('$3') ? [before, after, limit] : [after, limit];
    const rows = await this.db.rows<{ id: number; at: number; free: boolean }>(scan.read, params);
    const { gone, next, done } = oldRows(
      rows.map((r) => [r.id, r.at, r.free] as const),
      before,
      after,
      limit,
    );
    if (gone.length > 0) for (const sql of scan.remove) await this.db.run(sql, [gone]);
    return { deleted: gone.length, next, done };
  }
}
