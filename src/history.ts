import type { Logger } from 'pino';
import { HISTORY_KINDS, type HistoryKind, SENDS_KEPT_MS, type Store } from './store/store.js';

/** Rows removed per transaction: a few milliseconds of the event loop on SQLite. */
export const PURGE_BATCH = 500;
/** Batches per kind per run: 50,000 rows; a larger backlog goes over the following runs. */
export const PURGE_BATCHES_PER_RUN = 100;
/** Between runs; the first comes this long after the start. */
export const PURGE_INTERVAL_MS = 10 * 60_000;

export interface HistoryPurgerOptions {
  /** finished SMS, resolved alerts, the inbound audit and published commands older than this go; 0 keeps them */
  retentionMs: number;
  logger: Logger;
  intervalMs?: number;
}

/**
 * Keeps the store from growing for ever (`store.retention`): every `intervalMs`, removes old rows in small
 * transactions through the Store port, oldest first. The sends the rate caps count go after a day whatever the
 * retention. What is still to do is never removed (`HistoryRepository`). Several instances on one store may run
 * it at once: a row two of them remove is removed once.
 */
export class HistoryPurger {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;
  private stopped = false;

  constructor(
    private readonly store: Store,
    private readonly options: HistoryPurgerOptions,
  ) {}

  async start(): Promise<void> {
    this.stopped = false;
    this.schedule();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.run()
        .catch((err: unknown) =>
          this.options.logger.warn({ err }, 'removing old history failed; tried again at the next run'),
        )
        .finally(() => {
          this.running = undefined;
          this.schedule();
        });
    }, this.options.intervalMs ?? PURGE_INTERVAL_MS);
    this.timer.unref();
  }

  /** One run: what each kind lost. */
  async run(now = Date.now()): Promise<Record<HistoryKind, number>> {
    const removed = Object.fromEntries(HISTORY_KINDS.map((k) => [k, 0])) as Record<HistoryKind, number>;
    const { retentionMs } = this.options;
    for (const kind of HISTORY_KINDS) {
      if (kind !== 'sent' && retentionMs === 0) continue;
      const before = now - (kind === 'sent' ? SENDS_KEPT_MS : retentionMs);
      let after = 0;
      for (let batch = 0; batch < PURGE_BATCHES_PER_RUN && !this.stopped; batch++) {
        const r = await this.store.transaction((tx) => tx.history.purge(kind, before, after, PURGE_BATCH));
        removed[kind] += r.deleted;
        after = r.next;
        if (r.done) break;
      }
    }
    if (Object.values(removed).some((n) => n > 0))
      this.options.logger.info({ removed, retention_ms: retentionMs }, 'old history removed');
    return removed;
  }
}
