import { destinationSql, PRIORITY_RANK } from '../claims-sql.js';
import { SMS_COLUMNS, smsFromValues } from '../rows.js';
import type { ClaimRepository, Destinations, SmsRecord } from '../store.js';
import type { Statements } from './statements.js';

/**
 * Claims on queued SMS (cluster mode). SQLite serialises writers, so the select and the update in one
 * transaction cannot interleave with another instance's claim on the same file.
 */
export class SqliteClaims implements ClaimRepository {
  constructor(private readonly s: Statements) {}

  async claim(
    owner: string,
    destinations: Destinations,
    limit: number,
    ttlMs: number,
    now: number,
  ): Promise<SmsRecord[]> {
    if (limit <= 0) return [];
    const { where, args } = destinationFilter(destinations);
    if (where === undefined) return [];
    const rows = this.s
      .raw(
        `UPDATE sms SET claim_owner = ?, claim_until = ? WHERE id IN (
           SELECT id FROM sms WHERE state = 'queued' AND (claim_until IS NULL OR claim_until <= ?) AND (${where})
           ORDER BY ${PRIORITY_RANK}, id LIMIT ?)
         RETURNING ${SMS_COLUMNS}`,
      )
      .all(owner, now + ttlMs, now, ...args, limit) as unknown[][];
    return rows.map(smsFromValues).sort((a, b) => a.id - b.id);
  }

  async renew(owner: string, ttlMs: number, now: number): Promise<number> {
    return this.s
      .get(`UPDATE sms SET claim_until = ? WHERE claim_owner = ? AND state = 'queued'`)
      .run(now + ttlMs, owner).changes;
  }

  async release(owner: string): Promise<number> {
    return this.s
      .get(`UPDATE sms SET claim_owner = NULL, claim_until = NULL WHERE claim_owner = ? AND state = 'queued'`)
      .run(owner).changes;
  }
}

/** SQL over `to_number` for these destinations, with its parameters; `where` undefined when they allow none. */
function destinationFilter(d: Destinations): { where: string | undefined; args: Array<string | number> } {
  const args: Array<string | number> = [];
  const where = destinationSql(
    d,
    (p) => {
      args.push(p.length, p);
      return 'substr(to_number, 1, ?) = ?';
    },
    '1',
  );
  return { where, args };
}
