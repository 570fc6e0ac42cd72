/**
 * The Store port: what the rest of the bridge sees of its state. The only way to write is
 * `transaction(async tx => ...)`: every repository call in one transaction commits together or not at all.
 * SQLite (`sqlite/`) is the default adapter; a PostgreSQL one implements the same interfaces. No module
 * outside `store/` sees SQL, a statement or a driver type.
 */
import type { AlertChange, LoadedAlert, LoadedAlerts } from './alert-types.js';
import type { BrokerStateRepository } from './broker-state.js';

export type { AlertChange, LoadedAlert, LoadedAlerts } from './alert-types.js';

export const PRIORITIES = ['critical', 'high', 'normal', 'low'] as const;
export type Priority = (typeof PRIORITIES)[number];

export type SmsState = 'queued' | 'submitted' | 'delivered' | 'failed' | 'expired';

export interface NewSms {
  to: string;
  text: string;
  priority: Priority;
  /** what produced it: `rule:<id>`, `api`, `reply`, `alert-digest`, `alert-notice` */
  source: string;
  ruleId?: string | undefined;
  deviceId?: string | undefined;
  alertRef?: string | undefined;
  /** epoch ms after which it is failed as expired rather than sent late */
  expiresAt: number;
  maxParts?: number | undefined;
  registeredDelivery?: boolean | undefined;
}

export interface SmsRecord extends NewSms {
  id: number;
  state: SmsState;
  createdAt: number;
  updatedAt: number;
  attempts: number;
  connectionId: string | null;
  errorCode: number | null;
  error: string | null;
  partsTotal: number;
  partsDelivered: number;
  partsFailed: number;
}

export interface SubmittedPart {
  seq: number;
  /** the id exactly as the SMSC gave it in submit_sm_resp (trailing NULs and blanks removed) */
  messageId: string;
  /** the one other reading the connection's `message_id_format` stores, if any */
  alternate?: string | undefined;
}

/** One part of one SMS. */
export interface PartRef {
  smsId: number;
  seq: number;
}

export interface ReceiptOutcome {
  state: 'delivered' | 'failed' | 'expired';
  stat: string;
  errorCode: number | null;
}

export interface ReceiptResult {
  sms: SmsRecord;
  /** the SMS changed state because of this receipt */
  changed: boolean;
}

/** A receipt that came before the submit it settles was recorded. */
export interface ParkedReceipt extends ReceiptOutcome {
  id: number;
  connectionId: string;
  receiptId: string;
  /** the connection's message_id_format when it came */
  format: string;
  receivedAt: number;
}

export interface SmsQuery {
  state?: SmsState;
  to?: string;
  limit?: number;
}

export interface TransactionOptions {
  /**
   * A hint: the transaction nearly always writes with one statement, and when it fails, fails before writing or in
   * that statement (the row is gone). An adapter may then leave out what keeps one failing transaction from the
   * others committed with it (SQLite: its savepoint). Still atomic otherwise: if it fails after writing, the
   * transactions committed with it fail too, as when a commit fails.
   */
  oneWrite?: boolean;
}

/** The SMS outbox: queued -> submitted -> delivered | failed | expired. */
export interface OutboxRepository {
  /** New SMS, state queued, with their ids. */
  enqueue(items: NewSms[]): Promise<SmsRecord[]>;
  /**
   * The SMS is submitted (its parts on `connectionId`); returns it as stored. `seen`: the record of this SMS as the
   * caller last had it from the store (the sender's queued SMS), from which an adapter may build the record
   * returned instead of reading the row back, if the row still has its attempts, expiry and part counts.
   */
  markSubmitted(
    id: number,
    connectionId: string,
    parts: SubmittedPart[],
    seen?: SmsRecord,
  ): Promise<SmsRecord>;
  markFailed(
    id: number,
    state: 'failed' | 'expired',
    errorCode: number | null,
    error: string,
  ): Promise<SmsRecord>;
  /** A transient failure: counts the attempt (kept across restarts) and its reason. */
  recordAttempt(id: number, errorCode: number | null, error: string): Promise<SmsRecord>;
  /**
   * Parts on this connection still waiting for a receipt, submitted since `since`, whose id is one of `exact`
   * (as given) or whose other reading is one of `alternate`.
   */
  awaitingReceipt(
    connectionId: string,
    exact: readonly string[],
    alternate: readonly string[],
    since: number,
  ): Promise<{ exact: PartRef[]; alternate: PartRef[] }>;
  /** Applies a receipt's outcome to one part and settles its SMS (delivered when every part is). */
  settlePart(part: PartRef, outcome: ReceiptOutcome): Promise<ReceiptResult>;
  /** Keeps a receipt no part owns yet, findable by these keys. */
  parkReceipt(
    receipt: Omit<ParkedReceipt, 'id'>,
    keys: ReadonlyArray<{ key: string; kind: string }>,
  ): Promise<void>;
  /** Parked receipts on this connection that one of these keys could match, oldest first. */
  parkedFor(
    connectionId: string,
    exact: readonly string[],
    alternate: readonly string[],
  ): Promise<ParkedReceipt[]>;
  dropParked(id: number): Promise<void>;
  /** Parked receipts received before `before`, oldest first (at most 1,000). */
  parkedBefore(before: number): Promise<ParkedReceipt[]>;
  /** Removes and returns parked receipts older than `olderThan`, and the oldest beyond `keep`. */
  expireParked(olderThan: number, keep: number): Promise<ParkedReceipt[]>;
  /**
   * Puts a failed or expired SMS back in the queue (admin retry) with a new expiry, forgetting its earlier
   * parts and message ids. Undefined when there is no such SMS or it is not failed or expired.
   */
  requeue(id: number, expiresAt: number): Promise<SmsRecord | undefined>;
}

/** Alert lifecycle rows (src/alerts decides; this only stores). */
export interface AlertRepository {
  /**
   * Writes what one decision changed. Optimistic: an alert row is written only if the stored version is the
   * one the decision started from; otherwise the whole transaction fails with ERR_STORE_CONFLICT.
   */
  save(change: AlertChange): Promise<void>;
  /**
   * The live (not resolved) alerts with these rule and device keys or refs, with their recipients, locked until
   * the transaction ends (PostgreSQL `FOR UPDATE`, in id order; SQLite has one writer): a decision made on them
   * inside the transaction is made on what is committed and does not lose to another instance's.
   */
  lockLive(query: LiveAlertQuery): Promise<LoadedAlert[]>;
  /**
   * `count` new alert ids and ref numbers, from the database so that instances sharing it never draw the same
   * (PostgreSQL sequences; SQLite: after the newest alert). Ref numbers only grow; the caller wraps them.
   */
  allocate(count: number): Promise<Array<{ id: number; ref: number }>>;
}

export interface LiveAlertQuery {
  keys?: ReadonlyArray<{ ruleId: string; deviceId: string }>;
  refs?: readonly string[];
}

export interface InboundAudit {
  receivedAt: number;
  from: string;
  to: string;
  /** the text as received, with any PIN removed */
  text: string;
  dedupeKey: string;
  outcome: string;
  detail?: string | undefined;
  deviceId?: string | undefined;
  requestId?: string | undefined;
}

export interface MoPart {
  from: string;
  ref: number;
  total: number;
  seq: number;
  dataCoding: number;
  body: Buffer;
}

/** A device command waiting to be published (or published, waiting for the device's result). */
export interface DeviceCommand {
  requestId: string;
  deviceId: string;
  command: string;
  from: string;
  topic: string;
  payload: string;
  createdAt: number;
}

/** Inbound SMS: audit, parts of concatenated MO, the command outbox and per-sender dedupe. */
export interface InboundRepository {
  record(entry: InboundAudit): Promise<number>;
  /** A device command, committed with its audit row; published after commit. */
  addCommand(command: DeviceCommand): Promise<void>;
  markPublished(requestId: string, at: number): Promise<void>;
  /** The command with this id issued to this device, marked answered; undefined if unknown or answered. */
  takeResult(requestId: string, deviceId: string, at: number): Promise<DeviceCommand | undefined>;
  /** Keeps one part; returns every part of its message, in order, once all are there (they stay stored). */
  addPart(part: MoPart): Promise<MoPart[] | undefined>;
  /** Forgets the parts of one message: done in the transaction that records what the message did. */
  dropParts(from: string, ref: number, total: number): Promise<void>;
  /** Parts older than `olderThan` whose message never completed, removed and returned. */
  takeStaleParts(olderThan: number): Promise<MoPart[]>;
}

/** Small keyed state that must survive a restart (last telemetry per device). */
export interface KeyValueRepository {
  put(scope: string, key: string, value: Buffer, at: number): Promise<void>;
  /**
   * Stores `value` unless the key has one, and returns the one stored: of several instances doing this at once
   * on one store, all get the first committed value (a per-installation secret made by whoever starts first).
   */
  putIfAbsent(scope: string, key: string, value: Buffer, at: number): Promise<Buffer>;
}

/** Who holds a named resource (an SMPP connection) and until when (epoch ms, the callers' clock). */
export interface Lease {
  name: string;
  owner: string;
  expiresAt: number;
}

/**
 * Exclusive ownership of named resources among bridge instances sharing one store: an SMPP connection is
 * bound, and its SMS sent, only by the instance holding its lease. Time is the caller's `now` on both SQLite and
 * PostgreSQL: instances sharing a PostgreSQL store must keep their clocks in agreement (NTP) within a small
 * fraction of the TTL, or one may take a lease the other still believes it holds.
 */
export interface LeaseRepository {
  /**
   * Takes `name` for `owner` until `now + ttlMs` when it is free, expired or already `owner`'s (a renewal).
   * Returns the lease as it stands after the attempt: `owner` tells whether it was taken.
   */
  acquire(name: string, owner: string, ttlMs: number, now: number): Promise<Lease>;
  /** Gives `name` up if `owner` holds it (at shutdown, so another instance takes over at once). */
  release(name: string, owner: string): Promise<void>;
}

/**
 * Which destinations an instance can send to now (from the connections it owns): a number starting with one
 * of `prefixes`, or, when `otherwise` is set, a number starting with none of `otherwise` (an owned connection
 * without routes serves what no connection routes).
 */
export interface Destinations {
  prefixes: readonly string[];
  otherwise?: readonly string[] | undefined;
}

/**
 * Queued SMS handed to one bridge instance at a time (cluster mode): a claim lasts until `now + ttlMs` and is
 * renewed by its owner; an SMS whose claim expired (its owner died) can be claimed by another instance.
 */
export interface ClaimRepository {
  /**
   * Claims for `owner` at most `limit` queued SMS to `destinations` that no one holds (no claim, or an expired
   * one), highest priority first, then oldest. Two owners never get the same SMS while a claim holds.
   */
  claim(
    owner: string,
    destinations: Destinations,
    limit: number,
    ttlMs: number,
    now: number,
  ): Promise<SmsRecord[]>;
  /** Extends every claim `owner` holds on a queued SMS to `now + ttlMs`; returns how many. */
  renew(owner: string, ttlMs: number, now: number): Promise<number>;
  /** Gives up every claim `owner` holds on a queued SMS (shutdown, or its sender dropped them). */
  release(owner: string): Promise<number>;
}

/** How far back the rate caps count an alert's sends (`alert_sent`): the store keeps them this long. */
export const SENDS_KEPT_MS = 86_400_000;

/** What `HistoryRepository.purge` removes, oldest first. */
export const HISTORY_KINDS = ['sms', 'alerts', 'inbound', 'commands', 'senders', 'sent'] as const;
export type HistoryKind = (typeof HISTORY_KINDS)[number];

/**
 * Old rows removed in bounded batches, so that the store does not grow for ever: SMS in a final state (and
 * `submitted`, which is final when no receipt comes) with their parts, resolved alerts with their recipients and
 * held notices, the inbound audit, commands published long ago, the last MO per sender, and the sends the rate
 * caps count. What is still to do (a queued SMS, a live alert, an unpublished command) is never removed.
 */
export interface HistoryRepository {
  /**
   * Removes at most `limit` rows of `kind` older than `before` (epoch ms), scanning from the oldest after the
   * cursor `after` (0 to begin). `done` once no older row is left past the cursor; `next` resumes the scan.
   */
  purge(
    kind: HistoryKind,
    before: number,
    after: number,
    limit: number,
  ): Promise<{ deleted: number; next: number; done: boolean }>;
}

export interface Tx {
  readonly history: HistoryRepository;
  readonly outbox: OutboxRepository;
  readonly alerts: AlertRepository;
  readonly inbound: InboundRepository;
  readonly kv: KeyValueRepository;
  readonly leases: LeaseRepository;
  readonly claims: ClaimRepository;
}

export interface Store {
  start(): Promise<void>;
  stop(): Promise<void>;
  /**
   * Runs `fn` in one transaction and commits it (group-committed with concurrent transactions). `fn` must
   * await only `tx` calls. If `fn` throws, nothing it wrote is kept and the promise rejects.
   */
  transaction<T>(fn: (tx: Tx) => Promise<T>, options?: TransactionOptions): Promise<T>;
  /** Every SMS still to be sent (state queued), oldest first: the sender's work after a restart. */
  pendingSms(): Promise<SmsRecord[]>;
  getSms(id: number): Promise<SmsRecord | undefined>;
  listSms(query?: SmsQuery): Promise<SmsRecord[]>;
  countByState(): Promise<Record<SmsState, number>>;
  /** Reply SMS (`source: reply`) committed to this number since `since`. */
  countReplies(to: string, since: number): Promise<number>;
  /** Open alerts, held SMS and recent sends, to rebuild the alert policies' state. */
  loadAlerts(now: number): Promise<LoadedAlerts>;
  /** The latest MO recorded from this sender (not counting re-deliveries): what a re-delivery repeats. */
  lastInbound(from: string): Promise<{ dedupeKey: string; receivedAt: number } | undefined>;
  /** Commands committed but not yet published, oldest first. */
  unpublishedCommands(): Promise<DeviceCommand[]>;
  /** Everything kept under a scope of the key-value table. */
  loadKv(scope: string): Promise<Array<{ key: string; value: Buffer; at: number }>>;
  /** Whether the store can still read and write (readiness). */
  healthy(): Promise<boolean>;
  /** The embedded broker's durable state (retained messages, persistent sessions); only once started. */
  brokerState(): BrokerStateRepository;
}
