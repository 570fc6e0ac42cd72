import type Database from 'better-sqlite3';

/** Statements prepared once per open database, by their SQL. */
export class Statements {
  private readonly cache = new Map<string, Database.Statement>();
  /**
   * Raw-mode statements apart, keyed by the SQL itself: a key built per call (`raw` + the SQL) was a new string of
   * ~250 characters to concatenate and hash at every call, ~1.2 us against ~0.02 for the SQL constant's cached hash
   * (a settled receipt made two such calls).
   */
  private readonly rawCache = new Map<string, Database.Statement>();

  constructor(readonly db: Database.Database) {}

  get(sql: string): Database.Statement {
    let statement = this.cache.get(sql);
    if (!statement) {
      statement = this.db.prepare(sql);
      this.cache.set(sql, statement);
    }
    return statement;
  }

  /** The statement in raw mode: rows come back as arrays of values, in column order. */
  raw(sql: string): Database.Statement {
    let statement = this.rawCache.get(sql);
    if (!statement) {
      statement = this.db.prepare(sql).raw(true);
      this.rawCache.set(sql, statement);
    }
    return statement;
  }
}
