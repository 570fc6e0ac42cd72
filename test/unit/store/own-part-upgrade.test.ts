import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { MIGRATIONS } from '../../../src/store/sqlite/migrations.js';
import { SqliteStore } from '../../../src/store/sqlite/sqlite-store.js';

/**
 * Since migration 12 a one-part SMS keeps its part in its own row; a database from before keeps its parts in
 * sms_part, and a receipt for one of them must still find and settle it after the upgrade.
 */
describe('SQLite store: the part an SMS keeps in its own row (migration 12)', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it('leaves parts submitted before the migration in sms_part, found by either reading and settled', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'own-part-'));
    dirs.push(dir);
    const path = join(dir, 'bridge.db');
    const own = MIGRATIONS.findIndex((m) => m.includes('part_state'));
    expect(own).toBeGreaterThan(0);
    const old = new Database(path);
    for (const m of MIGRATIONS.slice(0, own)) old.exec(m);
    old.pragma(`user_version = ${own}`);
    const now = Date.now();
    old
      .prepare(
        `INSERT INTO sms (id, created_at, updated_at, to_number, text, priority, source, expires_at, state, attempts,
          connection_id, parts_total, submitted_at) VALUES (7, ?, ?, '+447700900001', 'hi', 'normal', 'test', ?,
          'submitted', 1, 'main', 1, ?)`,
      )
      .run(now, now, now + 60_000, now);
    old
      .prepare(
        `INSERT INTO sms_part (sms_id, seq, message_id, message_id_alt, connection_id, updated_at)
         VALUES (7, 1, '5f', '5f', 'main', ?)`,
      )
      .run(now);
    old.close();

    const store = new SqliteStore({ path, checkpoints: 'inline' });
    await store.start();
    try {
      const found = await store.transaction((tx) => tx.outbox.awaitingReceipt('main', ['5f'], ['5f'], 0));
      expect(found).toEqual({ exact: [{ smsId: 7, seq: 1 }], alternate: [{ smsId: 7, seq: 1 }] });
      const result = await store.transaction((tx) =>
        tx.outbox.settlePart({ smsId: 7, seq: 1 }, { state: 'delivered', stat: 'DELIVRD', errorCode: null }),
      );
      expect(result.sms).toMatchObject({ state: 'delivered', partsDelivered: 1 });
      expect(await store.transaction((tx) => tx.outbox.awaitingReceipt('main', ['5f'], ['5f'], 0))).toEqual({
        exact: [],
        alternate: [],
      });
    } finally {
      await store.stop();
    }
  });

  it('keeps no part waiting in the row of an SMS that was requeued', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'own-part-'));
    dirs.push(dir);
    const path = join(dir, 'bridge.db');
    const store = new SqliteStore({ path, checkpoints: 'inline' });
    await store.start();
    try {
      const [s] = await store.transaction((tx) =>
        tx.outbox.enqueue([
          {
            to: '+447700900001',
            text: 'hi',
            priority: 'normal',
            source: 'test',
            expiresAt: Date.now() + 60_000,
          },
        ]),
      );
      await store.transaction((tx) => tx.outbox.markSubmitted(s!.id, 'main', [{ seq: 1, messageId: '5f' }]));
      await store.transaction((tx) => tx.outbox.markFailed(s!.id, 'failed', null, 'gave up'));
      await store.transaction((tx) => tx.outbox.requeue(s!.id, Date.now() + 60_000));
    } finally {
      await store.stop();
    }
    // what the index sms_message holds: no entry left for a part nobody waits for any more
    const db = new Database(path, { readonly: true });
    const waiting = db.prepare(
      `SELECT COUNT(*) AS n FROM sms WHERE part_state IS NOT NULL OR message_id IS NOT NULL`,
    );
    expect(waiting.get()).toEqual({ n: 0 });
    db.close();
  });
});
