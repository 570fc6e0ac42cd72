import { statSync } from 'node:fs';

/**
 * SQLite keeps writing to a database file that was deleted (or replaced) under it: queries still answer, and
 * everything written is lost on restart. Readiness therefore also asks whether the path still names the
 * file that was opened (same device and inode).
 */
export class StoreFileCheck {
  private identity: string | undefined;

  /** `path` of the store; `:memory:` and empty paths have no file to check. */
  constructor(private readonly path: string | undefined) {}

  /** Remembers which file the path names now (call once the store is open). */
  start(): void {
    this.identity = this.current();
  }

  ok(): boolean {
    if (!this.path || this.path === ':memory:') return true;
    const now = this.current();
    return now !== undefined && (this.identity === undefined || now === this.identity);
  }

  private current(): string | undefined {
    if (!this.path || this.path === ':memory:') return undefined;
    try {
      const st = statSync(this.path);
      return `${st.dev}:${st.ino}`;
    } catch {
      return undefined;
    }
  }
}
