import type { LoadedAlerts } from './alert-types.js';
import type { DeviceCommand, SmsQuery, SmsRecord, SmsState } from './store.js';

type Maybe<T> = T | Promise<T>;

/** The read side of an adapter's repositories (SQLite answers at once, PostgreSQL asynchronously). */
export interface StoreReadSide {
  outbox: {
    pending(): Maybe<SmsRecord[]>;
    get(id: number): Maybe<SmsRecord | undefined>;
    list(query?: SmsQuery): Maybe<SmsRecord[]>;
    counts(): Maybe<Record<SmsState, number>>;
    replies(to: string, since: number): Maybe<number>;
  };
  alerts: { load(now: number): Maybe<LoadedAlerts> };
  inbound: {
    lastFrom(from: string): Maybe<{ dedupeKey: string; receivedAt: number } | undefined>;
    unpublished(): Maybe<DeviceCommand[]>;
  };
  kv: { load(scope: string): Maybe<Array<{ key: string; value: Buffer; at: number }>> };
}

/** The Store's reads (outside transactions), the same for every adapter: each asks its open repositories. */
export abstract class StoreReads {
  /** the open store's repositories; throws `ERR_STORE` when the store is not open */
  protected abstract get readSide(): StoreReadSide;

  async pendingSms(): Promise<SmsRecord[]> {
    return this.readSide.outbox.pending();
  }

  async getSms(id: number): Promise<SmsRecord | undefined> {
    return this.readSide.outbox.get(id);
  }

  async listSms(query?: SmsQuery): Promise<SmsRecord[]> {
    return this.readSide.outbox.list(query);
  }

  async countByState(): Promise<Record<SmsState, number>> {
    return this.readSide.outbox.counts();
  }

  async countReplies(to: string, since: number): Promise<number> {
    return this.readSide.outbox.replies(to, since);
  }

  async loadAlerts(now: number): Promise<LoadedAlerts> {
    return this.readSide.alerts.load(now);
  }

  async lastInbound(from: string): Promise<{ dedupeKey: string; receivedAt: number } | undefined> {
    return this.readSide.inbound.lastFrom(from);
  }

  async unpublishedCommands(): Promise<DeviceCommand[]> {
    return this.readSide.inbound.unpublished();
  }

  async loadKv(scope: string): Promise<Array<{ key: string; value: Buffer; at: number }>> {
    return this.readSide.kv.load(scope);
  }
}
