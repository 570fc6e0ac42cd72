import { oldRows } from '../rows.js';
import type { HistoryKind, HistoryRepository } from '../store.js';
import type { Statements } from './statements.js';

/**
 * Each table is read from its oldest row by its integer key (rows come in time order, so the scan stops at the
 * first one newer than `before`); what may go is deleted by key. No table needs an index for it.
 */
interface Scan {
  /** the next `limit` rows after the cursor: [key, time, may go (0/1)] */
  read: string;
  /** statements run with each key that may go, in order */
  remove: string[];
}

const SCANS: Record<HistoryKind, Scan> = {
  // `submitted` is final for an SMS no receipt was asked for, or whose receipt never came
  sms: {
    read: `SELECT id, created_at, state <> 'queued' FROM sms WHERE id > ? ORDER BY id LIMIT ?`,
    remove: ['DELETE FROM sms_part WHERE sms_id = ?', 'DELETE FROM sms WHERE id = ?'],
  },
  // opened before `before`; goes once resolved before it
  alerts: {
    read: `SELECT id, opened_at, state = 'resolved' AND resolved_at < @before FROM alert WHERE id > ? ORDER BY id LIMIT ?`,
    remove: [
      'DELETE FROM alert_recipient WHERE alert_id = ?',
      'DELETE FROM alert_held WHERE alert_id = ?',
      'DELETE FROM alert WHERE id = ?',
    ],
  },
  inbound: {
    read: 'SELECT id, received_at, 1 FROM inbound_sms WHERE id > ? ORDER BY id LIMIT ?',
    remove: ['DELETE FROM inbound_sms WHERE id = ?'],
  },
  // a command still to publish stays (the outbox)
  commands: {
    read: 'SELECT rowid, created_at, published_at IS NOT NULL FROM command_request WHERE rowid > ? ORDER BY rowid LIMIT ?',
    remove: ['DELETE FROM command_request WHERE rowid = ?'],
  },
  // the last MO per sender (a re-delivery's dedupe): rows are replaced in place, so not in time order
  senders: {
    read: 'SELECT rowid, 0, received_at < @before FROM inbound_last WHERE rowid > ? ORDER BY rowid LIMIT ?',
    remove: ['DELETE FROM inbound_last WHERE rowid = ?'],
  },
  sent: {
    read: 'SELECT rowid, at, 1 FROM alert_sent WHERE rowid > ? ORDER BY rowid LIMIT ?',
    remove: ['DELETE FROM alert_sent WHERE rowid = ?'],
  },
};

export class SqliteHistory implements HistoryRepository {
  constructor(private readonly s: Statements) {}

  async purge(
    kind: HistoryKind,
    before: number,
    after: number,
    limit: number,
  ): Promise<{ deleted: number; next: number; done: boolean }> {
    const scan = SCANS[kind];
    const read = this.s.raw(scan.read);
    const rows = (
      scan.read.includes('@before') ? read.all({ before }, after, limit) : read.all(after, limit)
    ) as Array<[number, number, number]>;
    const removes = scan.remove.map((sql) => this.s.get(sql));
    const { gone, next, done } = oldRows(rows, before, after, limit);
    for (const key of gone) for (const remove of removes) remove.run(key);
    return { deleted: gone.length, next, done };
  }
}
