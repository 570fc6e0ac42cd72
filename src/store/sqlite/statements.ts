import type Database from 'better-sqlite3';

/** Statements prepared once per open database, by their SQL. */
export class Statements {
  private readonly cache = new Map<string, Database.Statement>();

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
    const key = `raw\u0000${sql}`;
    let statement = this.cache.get(key);
    if (!statement) {
      statement = this.db.prepare(sql).raw(true);
      this.cache.set(key, statement);
    }
    return statement;
  }
}
