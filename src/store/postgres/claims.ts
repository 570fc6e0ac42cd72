import { destinationSql, PRIORITY_RANK } from '../claims-sql.js';
import type { ClaimRepository, Destinations, SmsRecord } from '../store.js';
import { type Db, type SmsRow, toRecord } from './db.js';

/**
 * Claims on queued SMS (cluster mode). `FOR UPDATE SKIP LOCKED`: instances claiming at once each lock the rows
 * they pick and pass over the rows another is taking, so no SMS is claimed twice and no one waits.
 */
export class PgClaims implements ClaimRepository {
  constructor(private readonly db: Db) {}

  async claim(
    owner: string,
    destinations: Destinations,
    limit: number,
    ttlMs: number,
    now: number,
  ): Promise<SmsRecord[]> {
    if (limit <= 0) return [];
    const where = destinationFilter(destinations, 5);
    if (where === undefined) return [];
    const rows = await this.db.rows<SmsRow>(
      `UPDATE sms SET claim_owner = $1, claim_until = $2 WHERE id IN (
         SELECT id FROM sms WHERE state = 'queued' AND (claim_until IS NULL OR claim_until <= $3) AND (${where.sql})
         ORDER BY ${PRIORITY_RANK}, id LIMIT $4 FOR UPDATE SKIP LOCKED)
       RETURNING *`,
      [owner, now + ttlMs, now, limit, ...where.params],
    );
    return rows.map(toRecord).sort((a, b) => a.id - b.id);
  }

  async renew(owner: string, ttlMs: number, now: number): Promise<number> {
    return this.db.run(`UPDATE sms SET claim_until = $1 WHERE claim_owner = $2 AND state = 'queued'`, [
      now + ttlMs,
      owner,
    ]);
  }

  async release(owner: string): Promise<number> {
    return this.db.run(
      `UPDATE sms SET claim_owner = NULL, claim_until = NULL WHERE claim_owner = $1 AND state = 'queued'`,
      [owner],
    );
  }
}

/** SQL over `to_number` for these destinations (parameters from `$first`); undefined when they allow none. */
function destinationFilter(d: Destinations, first: number): { sql: string; params: string[] } | undefined {
  const params: string[] = [];
  const sql = destinationSql(
    d,
    (p) => {
      params.push(p);
      return `left(to_number, ${p.length}) = $${first + params.length - 1}`;
    },
    'TRUE',
  );
  return sql === undefined ? undefined : { sql, params };
}
