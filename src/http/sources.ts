import type { NewSms, Priority, SmsRecord, Store } from '../store/store.js';

/** One SMSC connection as the HTTP side sees it; `SmppClient` is the real one. */
export interface LinkView {
  readonly id: string;
  readonly bound: boolean;
  /** why the last bind attempt failed or the last session ended */
  readonly lastError?: string | undefined;
}

/** An open alert, shown on the status page when an alerts module is wired in. */
export interface AlertView {
  id: string | number;
  state: string;
  rule?: string | undefined;
  device?: string | undefined;
  ref?: string | undefined;
  /** e.g. `pump-7 overheat` */
  label?: string | undefined;
  /** how many messages raised it */
  count?: number | undefined;
  openedAt?: number | undefined;
}

export interface BridgeCounters {
  /** MQTT messages handed to intake */
  messagesIn: number;
  /** rule matches (one message may match several rules) */
  ruleHits: number;
  /** delivery receipts received */
  receipts: number;
}

/** What the HTTP server reads from the rest of the bridge, passed in by the composition root. */
export interface HttpSources {
  store: Pick<Store, 'getSms' | 'listSms' | 'countByState' | 'healthy'>;
  brokerListening: () => boolean;
  links: readonly LinkView[];
  /** SMS waiting per priority lane */
  queueDepth: () => Record<string, number>;
  counters: () => BridgeCounters;
  /** commits new SMS and hands them to the sender (the app's one path for SMS not made by intake) */
  queue: (items: NewSms[]) => Promise<SmsRecord[]>;
  /** puts a failed or expired SMS back in the queue, committed and announced; undefined if it cannot be */
  requeue: (id: number, expiresAt: number) => Promise<SmsRecord | undefined>;
  /** how long a new or retried SMS may wait before it is failed as expired */
  maxAgeMs: (priority: Priority) => number;
  /**
   * In a cluster: whether this instance takes part (its heartbeat is current). `/readyz` then counts it ready
   * without a bound connection of its own: another instance holds them, and this one takes over if it dies.
   */
  clusterMember?: (() => boolean) | undefined;
  /** the store's file, checked by /readyz: a deleted or replaced database file is not ready. Default: none. */
  storeFile?: string | undefined;
  /** open alerts; absent until an alerts module exists */
  alerts?: (() => Promise<AlertView[]>) | undefined;
}
