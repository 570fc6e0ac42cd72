import { BridgeError } from '../errors.js';
import type { AlertEvent, Events } from '../events.js';
import type { Logger } from '../logger.js';
import type { CompiledRule, Resolution, RuleMatch, RuleSet } from '../rules/engine.js';
import type { AlertChange, AlertRecipientRecord, AlertRecord, HeldRecord } from '../store/alert-types.js';
import type { LiveAlertQuery, NewSms, Priority, SmsRecord, Store, Tx } from '../store/store.js';
import { Batch, type Outgoing } from './batch.js';
import { AlertBook } from './book.js';
import { DAY } from './clock.js';
import { mayAck } from './policy.js';
import { ackNotice, ackReplies } from './texts.js';
import type { AckResult, Alert } from './types.js';

export type { AckResult, Alert } from './types.js';

export interface AlertEngineOptions {
  /** the rule set in force (hot reload swaps it) */
  rules: () => RuleSet;
  store: Store;
  /** committed SMS (`sms.status` queued) and alert states (`alert.changed`) are announced here */
  events: Events;
  /** how long an SMS may wait before it is failed as expired, per priority */
  maxAgeMs: (priority: Priority) => number;
  logger: Logger;
  /**
   * Other instances write the same store (a cluster): the book is read back this often, so alerts opened
   * elsewhere are known here (their escalations go on if that instance dies), and an unknown `ACK <ref>`
   * reads the book back before it is refused. Undefined: this instance is the only writer.
   */
  refreshMs?: number | undefined;
  /**
   * Other instances write the same store: each message and `ACK` reads the alerts it touches from the store under
   * lock, and new alerts take their ids and refs from the store. Default false: the book is the truth (one writer,
   * no read per message).
   */
  shared?: boolean | undefined;
  /**
   * At most this many decisions committing at once; the others wait here, in arrival order. PostgreSQL: fewer
   * than the pool's connections, so lease renewals, claims and send results are not queued behind alert
   * decisions in the pool (each waits for a connection, and a renewal that waits too long loses the lease).
   * Undefined: no limit (SQLite group-commits every transaction of a turn together).
   */
  maxTransactions?: number | undefined;
}

/** The query of a decision on one writer's store: nothing is read under lock. */
const NO_QUERY: LiveAlertQuery = Object.freeze({});

/** The (rule, device) pairs a message touches, for a shared store's lock. */
function alertKeys(
  resolutions: Resolution[],
  matches: RuleMatch[],
): Array<{ ruleId: string; deviceId: string }> {
  const keys: Array<{ ruleId: string; deviceId: string }> = [];
  for (const x of resolutions) keys.push({ ruleId: x.rule.id, deviceId: x.device?.id ?? '' });
  for (const x of matches) keys.push({ ruleId: x.rule.id, deviceId: x.device?.id ?? '' });
  return keys;
}

/** How many times one decision is made again after another writer changed the alerts it touched. */
export const CONFLICT_RETRIES = 5;

interface Snapshot {
  alert: AlertRecord;
  recipients: Map<string, AlertRecipientRecord>;
  base: number;
}

/**
 * What a decision keeps from its transaction until the commit is answered (after the group commit's fsync): the
 * alert events to announce then. ~1,000 decisions wait at once in benchmark 2, and what they hold is copied by
 * every scavenge meanwhile and promoted (issue 14): not the batch, its snapshots or the message's matches.
 */
interface Pending {
  /** the decision, until the transaction runs it */
  decide: ((book: AlertBook, batch: Batch) => void) | undefined;
  /** the device message decided on, until its decision is written */
  message: Message | undefined;
  /** `alert.changed` of each alert whose state changed, as committed */
  events: AlertEvent[] | undefined;
}

/**
 * A device message's matches and resolutions, until its decision is written. Only a conflict, thrown while the
 * decision is written, makes it again; after that only the commit's answer is awaited, and the matches (each
 * with the message's parsed payload and text) go.
 */
interface Message {
  matches: RuleMatch[];
  resolutions: Resolution[];
  written: boolean;
}

const never = (): boolean => false;

const isConflict = (err: unknown): boolean => err instanceof BridgeError && err.code === 'ERR_STORE_CONFLICT';

/**
 * `rule:<id>`, the source of a rule's alert SMS: one string per rule, not one per SMS (each queued SMS holds it
 * until it is sent, issue 14). Weak: a rule replaced by a reload lets its string go.
 */
const ruleSources = new WeakMap<CompiledRule, string>();

function ruleSource(rule: CompiledRule | undefined, ruleId: string | undefined): string {
  if (rule === undefined) return `rule:${ruleId}`;
  let source = ruleSources.get(rule);
  if (source === undefined) {
    source = `rule:${rule.id}`;
    ruleSources.set(rule, source);
  }
  return source;
}

/** The events of a batch's changed alerts, from the snapshots written. */
function eventsOf(batch: Batch, snapshots: Map<number, Snapshot>): AlertEvent[] | undefined {
  if (batch.events.size === 0) return undefined;
  // sized to fit: a first push gives an empty array room for 17 (a 152-byte store), kept until the fsync answers
  const events = new Array<AlertEvent>(batch.events.size);
  let n = 0;
  for (const alert of batch.events) {
    const s = snapshots.get(alert.id);
    if (s) events[n++] = toEvent(s.alert);
  }
  events.length = n;
  return events;
}

interface Prepared {
  snapshots: Map<number, Snapshot>;
  items: NewSms[];
  heldAdded: HeldRecord[];
}

function isEmpty(batch: Batch): boolean {
  return (
    batch.alerts.size === 0 &&
    batch.sms.length === 0 &&
    batch.heldAdded.length === 0 &&
    batch.heldRemoved.length === 0 &&
    batch.heldMoved.length === 0
  );
}

/**
 * Alert lifecycle (open -> escalated -> acked -> resolved) and policies. Each decision is made in memory
 * (AlertBook, synchronous, so concurrent messages cannot race) and committed in one transaction with its SMS.
 * The book is a cache of what is committed: when a commit fails, decisions stop until every commit in flight
 * has settled and the book is read back from the store. Alert rows are written optimistically on their
 * version, so a decision built on a change that then failed to commit fails too instead of half-applying.
 */
export class AlertEngine {
  private readonly log: Logger;
  private book: AlertBook | undefined;
  private timer: NodeJS.Timeout | undefined;
  private timerAt = 0;
  private ticking = false;
  private readonly inflight = new Set<Promise<unknown>>();
  /** decisions committing (`settle`): counted, not tracked as promises (a `catch` and a `finally` per message) */
  private settling = 0;
  /** who waits for `settling` to reach 0 (`settled`: stop, a read-back); bounded by those callers */
  private idle: Array<() => void> = [];
  /** set while the book is being read back after a failed commit */
  private recovering: Promise<void> | undefined;
  private refreshTimer: NodeJS.Timeout | undefined;
  private running = 0;
  /** decisions waiting for a turn (`maxTransactions`): intake's in flight, ACKs, alert SMS states, timers */
  private readonly turns: Array<() => void> = [];

  constructor(private readonly options: AlertEngineOptions) {
    this.log = options.logger.child({ module: 'alerts' });
  }

  /** Loads the open alerts and re-arms their timers: a schedule survives a restart. */
  async start(): Promise<void> {
    this.book = new AlertBook(await this.options.store.loadAlerts(Date.now()));
    if (this.book.alerts.size > 0) this.log.info({ open: this.book.alerts.size }, 'alerts resumed');
    this.arm();
    const every = this.options.refreshMs;
    if (every !== undefined) {
      this.refreshTimer = setInterval(() => this.reread(), every);
      this.refreshTimer.unref?.();
    }
  }

  async stop(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.refreshTimer) clearInterval(this.refreshTimer);
    this.refreshTimer = undefined;
    await this.settled();
    this.book = undefined;
  }

  /** Announces every live alert again (after a restart, once the broker runs: retained topics are current). */
  announce(): void {
    for (const alert of this.book?.alerts.values() ?? [])
      this.options.events.emit('alert.changed', toEvent(alert));
  }

  /** SMS ids the book maps back to live alerts (bounded by their recipients) */
  get indexedSms(): number {
    return this.book?.indexedSms ?? 0;
  }

  /** Alerts not yet resolved, for the status page. */
  live(): Alert[] {
    return [...(this.book?.alerts.values() ?? [])];
  }

  /**
   * A device message's matches and resolutions: decides the SMS and commits them with the alert state.
   * Resolves once committed (guarantee 1); rejects, with nothing kept, when the commit fails.
   */
  process(matches: RuleMatch[], resolutions: Resolution[], now: Date): Promise<SmsRecord[]> {
    // the time, not the `Date`: what the retry keeps waits for the commit's fsync
    const at = now.getTime();
    const message: Message = { matches, resolutions, written: false };
    // The first attempt without `retrying`'s async frame (its promise, generator and registers) around it: ~1,000
    // decisions wait for the commit's answer at once in benchmark 2, and what they hold is promoted (issue 14).
    let first: Promise<SmsRecord[]>;
    try {
      first = this.decide(message, at);
    } catch (err) {
      first = Promise.reject(err);
    }
    return first.catch((err: unknown) => {
      if (!isConflict(err) || CONFLICT_RETRIES <= 1) throw err;
      this.log.debug({ attempt: 1 }, 'alert decision lost to another writer; deciding again');
      return this.retrying(() => this.decide(message, at), 2);
    });
  }

  private decide(message: Message, at: number): Promise<SmsRecord[]> {
    // only a conflict decides again, and none can come once the decision is written
    if (message.written) return Promise.reject(new Error('a written alert decision was to be made again'));
    const { matches, resolutions } = message;
    // a message that both matches and resolves a rule resolves it (most messages resolve nothing)
    let opening = matches;
    if (resolutions.length > 0) {
      const resolved = new Set(resolutions.map((r) => `${r.rule.id}\u0000${r.device?.id ?? ''}`));
      opening = matches.filter((m) => !resolved.has(`${m.rule.id}\u0000${m.device?.id ?? ''}`));
    }
    return this.locked(
      // only a shared store reads the live alerts under lock
      this.options.shared ? { keys: alertKeys(resolutions, matches) } : NO_QUERY,
      (book) => opening.filter((m) => !book.liveByKey(m.rule.id, m.device?.id)).length,
      (book, batch) => {
        const rules = this.options.rules();
        for (const r of resolutions) book.resolve(rules, r, at, batch);
        for (const m of opening) book.match(rules, m, at, batch);
      },
      at,
      message,
    );
  }

  /** `ACK <ref>` from `byPhone` (E.164): stops the escalation and tells the others who were told. */
  ack(ref: string, byPhone: string): Promise<AckResult> {
    return this.retrying(() => this.decideAck(ref, byPhone));
  }

  private async decideAck(ref: string, byPhone: string): Promise<AckResult> {
    const now = Date.now();
    const bare = ref.replace(/^#/, '');
    let acked: Alert | undefined;
    let result: AckResult | undefined;
    const decision = (book: AlertBook, batch: Batch): AckResult | undefined => {
      const rules = this.options.rules();
      // read from the store under lock: an alert another instance opened or acked is seen as it is
      const alert = book.byRefOf(bare);
      if (!alert) return { ok: false, code: 'unknown_ref', reply: ackReplies.unknown(ref), notified: 0 };
      if (alert.state === 'acked') {
        return {
          ok: false,
          code: 'already_acked',
          reply: ackReplies.already(alert),
          alertId: alert.id,
          notified: 0,
        };
      }
      if (!alert.recipients.has(byPhone) && !mayAck(rules, alert.ruleId, byPhone)) {
        return {
          ok: false,
          code: 'not_allowed',
          reply: ackReplies.notAllowed(alert),
          alertId: alert.id,
          notified: 0,
        };
      }
      const contact = rules.contactByPhone(byPhone);
      const who = contact?.name ?? contact?.id ?? byPhone;
      alert.state = 'acked';
      alert.ackedBy = who;
      alert.ackedPhone = byPhone;
      alert.ackedAt = now;
      alert.updatedAt = now;
      alert.nextEscalationAt = null;
      alert.receiptDueAt = null;
      book.unhold(alert.id, batch);
      batch.alerts.add(alert);
      batch.events.add(alert);
      const text = ackNotice(who, alert);
      for (const r of alert.recipients.values()) {
        if (r.toldAt !== null && r.phone !== byPhone) book.notice(rules, alert, r.phone, text, now, batch);
      }
      acked = alert;
      return undefined;
    };
    const records = await this.locked(
      { refs: [bare] },
      () => 0,
      (book, batch) => {
        result = decision(book, batch);
      },
      now,
    );
    if (result) return result;
    const alert = acked!;
    this.log.info({ alert: alert.id, ref: alert.ref, by: alert.ackedBy }, 'alert acked');
    return {
      ok: true,
      code: 'acked',
      reply: ackReplies.acked(alert),
      alertId: alert.id,
      notified: records.length,
    };
  }

  /** Every committed SMS state (the `sms.status` event); failures of the current step escalate at once. */
  readonly onSmsStatus = (sms: SmsRecord): void => {
    if (sms.state !== 'failed' && sms.state !== 'expired' && sms.state !== 'delivered') return;
    const state = sms.state;
    this.background(
      this.retrying(async () => {
        const book = await this.ready();
        const batch = new Batch();
        const now = Date.now();
        book.smsStatus(this.options.rules(), sms.id, state, now, batch);
        if (batch.alerts.size === 0) return;
        this.armSooner(batch.alerts);
        return this.commit(batch, now);
      }),
    );
  };

  /**
   * Runs a decision and, when its commit lost to another writer (ERR_STORE_CONFLICT: another instance, or a
   * decision built on one that failed), makes it again on the book read back from the store. Bounded.
   */
  private async retrying<T>(decide: () => Promise<T>, from = 1): Promise<T> {
    for (let attempt = from; ; attempt++) {
      try {
        return await decide();
      } catch (err) {
        if (!isConflict(err) || attempt >= CONFLICT_RETRIES) throw err;
        this.log.debug({ attempt }, 'alert decision lost to another writer; deciding again');
      }
    }
  }

  /** The book, once no read-back is under way. */
  private async ready(): Promise<AlertBook> {
    while (this.recovering !== undefined) await this.recovering;
    if (!this.book) throw new Error('the alert engine is not started');
    return this.book;
  }

  private async settled(): Promise<void> {
    for (;;) {
      if (this.settling > 0) await new Promise<void>((resolve) => this.idle.push(resolve));
      else if (this.inflight.size > 0) await Promise.allSettled([...this.inflight]);
      else return;
    }
  }

  /** One decision of `settle` has settled (its events emitted or its failure handled). */
  private settledOne(): void {
    if (--this.settling > 0 || this.idle.length === 0) return;
    const waiting = this.idle;
    this.idle = [];
    for (const resolve of waiting) resolve();
  }

  /**
   * A decision made inside its transaction on what the store holds: the live alerts it touches (`query`) are
   * read under lock and replace the book's copies, ids and refs for the alerts it opens (`opens`, counted on
   * the refreshed book) come from the store, then `decide` runs (synchronously) and its batch is written.
   * So instances sharing a store decide one after another per alert instead of losing to each other. A
   * conflict left (two instances opening one alert at once) fails the transaction and `retrying` decides
   * again; the book needs no read-back unless the decision changed state beyond the alerts it locked.
   */
  private locked(
    query: LiveAlertQuery,
    opens: (book: AlertBook) => number,
    decide: (book: AlertBook, batch: Batch) => void,
    now: number,
    message?: Message,
  ): Promise<SmsRecord[]> {
    // Not an async function: its promise would wrap settle()'s, three more turns per decision. A read-back under
    // way (rare) is waited for first.
    const book = this.book;
    if (this.recovering !== undefined || !book) return this.lockedLater(query, opens, decide, now, message);
    const pending: Pending = { decide, message, events: undefined };
    if (this.options.shared) return this.lockedShared(book, query, opens, pending, now);
    // one writer: nothing is read under lock; the closure keeps only what the commit's answer needs
    const work = this.transaction((tx) => {
      try {
        return this.decideAndWrite(tx, book, pending, new Batch(), now);
      } catch (err) {
        return Promise.reject(err);
      }
    });
    // one writer: the retry does not read the store, so the book is read back
    return this.settle(work, pending, never);
  }

  private lockedLater(
    query: LiveAlertQuery,
    opens: (book: AlertBook) => number,
    decide: (book: AlertBook, batch: Batch) => void,
    now: number,
    message: Message | undefined,
  ): Promise<SmsRecord[]> {
    return this.ready().then(() => this.locked(query, opens, decide, now, message));
  }

  /**
   * A shared store: the live alerts it touches are read under lock first, and a failed commit asks whether the
   * decision touched only the alerts it locked (`local`), so the batch is kept until the commit's answer.
   */
  private lockedShared(
    book: AlertBook,
    query: LiveAlertQuery,
    opens: (book: AlertBook) => number,
    pending: Pending,
    now: number,
  ): Promise<SmsRecord[]> {
    const batch = new Batch();
    const work = this.transaction(async (tx) => {
      book.refresh(query, await tx.alerts.lockLive(query));
      const count = opens(book);
      book.supply(count > 0 ? await tx.alerts.allocate(count) : []);
      return this.decideAndWrite(tx, book, pending, batch, now);
    });
    const local = () =>
      [...batch.alerts].every(
        (a) =>
          query.keys?.some((k) => k.ruleId === a.ruleId && k.deviceId === a.deviceId) ||
          query.refs?.includes(a.ref),
      ) &&
      // the dispatcher's caps count sends in memory
      batch.sent.length === 0 &&
      batch.heldAdded.length === 0 &&
      batch.heldRemoved.length === 0 &&
      batch.heldMoved.length === 0;
    return this.settle(work, pending, local);
  }

  /**
   * Runs the decision (once: nothing it captured, such as the message's matches, waits for the commit's fsync)
   * and writes its batch; `pending` keeps the events to announce after the commit.
   */
  private decideAndWrite(
    tx: Tx,
    book: AlertBook,
    pending: Pending,
    batch: Batch,
    now: number,
  ): Promise<SmsRecord[]> {
    const decide = pending.decide!;
    pending.decide = undefined;
    decide(book, batch);
    this.armSooner(batch.alerts);
    if (isEmpty(batch)) return Promise.resolve([]);
    const prepared = this.prepare(batch, now);
    pending.events = eventsOf(batch, prepared.snapshots);
    return this.write(tx, batch, prepared, pending);
  }

  /**
   * Commits one decision made on the book: alert rows (as they are now, at their next version), held and sent
   * rows, and the SMS, linked to the recipients they tell, in one transaction. Events only after the commit.
   */
  private commit(batch: Batch, now: number): Promise<SmsRecord[]> {
    if (isEmpty(batch)) return Promise.resolve([]);
    const prepared = this.prepare(batch, now);
    const pending: Pending = {
      decide: undefined,
      message: undefined,
      events: eventsOf(batch, prepared.snapshots),
    };
    const work = this.transaction((tx) => this.write(tx, batch, prepared, pending));
    return this.settle(work, pending, never);
  }

  /** `store.transaction`, at most `maxTransactions` at once. */
  private transaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
    const max = this.options.maxTransactions;
    // no limit: the store's own promise, not one of an async function around it (three more turns)
    if (max === undefined) return this.options.store.transaction(fn);
    return this.limitedTransaction(fn, max);
  }

  private async limitedTransaction<T>(fn: (tx: Tx) => Promise<T>, max: number): Promise<T> {
    if (this.running >= max) await new Promise<void>((resolve) => this.turns.push(resolve));
    else this.running++;
    try {
      return await this.options.store.transaction(fn);
    } finally {
      const next = this.turns.shift();
      if (next) next();
      else this.running--;
    }
  }

  private prepare(batch: Batch, now: number): Prepared {
    for (const d of batch.dropped) {
      this.log.warn({ to: d.phone, alert: d.alertId, why: d.why }, 'alert SMS not sent: over a cap');
    }
    const snapshots = new Map<number, Snapshot>();
    for (const alert of batch.alerts) {
      const base = alert.version;
      alert.version = base + 1;
      const recipients = new Map<string, AlertRecipientRecord>();
      for (const r of alert.recipients.values()) recipients.set(r.phone, { ...r });
      snapshots.set(alert.id, { alert: recordOf(alert), recipients, base });
    }
    const items: NewSms[] = [];
    for (const o of batch.sms) items.push(this.toSms(o, now));
    const heldAdded: HeldRecord[] = [];
    for (const h of batch.heldAdded) heldAdded.push({ ...h });
    return { snapshots, items, heldAdded };
  }

  private async write(
    tx: Tx,
    batch: Batch,
    { snapshots, items, heldAdded }: Prepared,
    pending: Pending,
  ): Promise<SmsRecord[]> {
    const records = items.length > 0 ? await tx.outbox.enqueue(items) : [];
    for (let i = 0; i < records.length; i++) {
      const sms = records[i]!;
      const out = batch.sms[i]!;
      for (const t of out.tells) {
        const r = snapshots.get(t.alertId)?.recipients.get(t.phone);
        if (r) r.smsId = sms.id;
      }
      this.book?.linkSms(out, sms.id);
    }
    const alerts: Array<{ alert: AlertRecord; recipients: AlertRecipientRecord[]; base: number }> = [];
    for (const s of snapshots.values()) {
      const recipients: AlertRecipientRecord[] = [];
      for (const r of s.recipients.values()) recipients.push(r);
      alerts.push({ alert: s.alert, recipients, base: s.base });
    }
    const change: AlertChange = {
      alerts,
      heldAdded,
      heldRemoved: batch.heldRemoved,
      heldMoved: batch.heldMoved,
      sent: batch.sent,
    };
    await tx.alerts.save(change);
    // written: no conflict can make it again, so the message's matches need not wait for the commit's answer
    const message = pending.message;
    if (message !== undefined) {
      pending.message = undefined;
      message.written = true;
      message.matches = [];
      message.resolutions = [];
    }
    return records;
  }

  /**
   * Events after the commit. A failed commit leaves the book ahead of the store: it is read back, unless
   * `local()` says the decision touched only alerts the retry reads again under lock (a conflict).
   */
  private settle(work: Promise<SmsRecord[]>, pending: Pending, local: () => boolean): Promise<SmsRecord[]> {
    this.settling++;
    return work.then(
      (records) => {
        try {
          const events = pending.events;
          if (events) for (const e of events) this.options.events.emit('alert.changed', e);
          for (const sms of records) this.options.events.emit('sms.status', sms);
          return records;
        } finally {
          this.settledOne();
        }
      },
      (err: unknown) => {
        try {
          const conflict = err instanceof BridgeError && err.code === 'ERR_STORE_CONFLICT';
          if (!conflict) this.log.error({ err }, 'alert state not committed; reading it back from the store');
          if (!conflict || !local()) this.reread();
          throw err;
        } finally {
          this.settledOne();
        }
      },
    );
  }

  /**
   * After a failed commit, or to learn what other instances wrote: hold new decisions, let the commits in
   * flight settle, read the book back.
   */
  private reread(): void {
    if (this.recovering !== undefined || !this.book) return;
    this.recovering = (async () => {
      await this.settled();
      for (;;) {
        try {
          this.book = new AlertBook(await this.options.store.loadAlerts(Date.now()));
          break;
        } catch (loadErr) {
          this.log.error({ err: loadErr }, 'cannot read the alert state back; retrying in 1 s');
          await new Promise((r) => setTimeout(r, 1000));
        }
      }
    })().finally(() => {
      this.recovering = undefined;
      this.arm();
    });
  }

  private toSms(o: Outgoing, now: number): NewSms {
    const rule = o.ruleId === undefined ? undefined : this.options.rules().rule(o.ruleId);
    return {
      to: o.phone,
      text: o.text,
      priority: o.priority,
      source: o.kind === 'alert' ? ruleSource(rule, o.ruleId) : `alert-${o.kind}`,
      ruleId: o.ruleId,
      deviceId: o.deviceId,
      alertRef: o.ref,
      expiresAt: now + this.options.maxAgeMs(o.priority),
      maxParts: rule?.maxParts,
      registeredDelivery: rule?.registeredDelivery,
    };
  }

  private track(work: Promise<unknown>): void {
    const p = work.catch(() => undefined);
    this.inflight.add(p);
    void p.finally(() => this.inflight.delete(p));
  }

  private background(work: Promise<unknown>): void {
    const p = work.catch((err: unknown) => {
      // another instance's timer made the same decision first (every instance that knows an alert arms it)
      if (err instanceof BridgeError && err.code === 'ERR_STORE_CONFLICT')
        this.log.debug({ err }, 'alert decision lost to another instance');
      else this.log.error({ err }, 'alert state not committed');
    });
    this.track(p);
  }

  /** One timer for the earliest due work of every alert and every held SMS. */
  private arm(): void {
    if (!this.book || this.ticking || this.recovering !== undefined) return;
    this.setTimer(this.book.due(this.options.rules()));
  }

  /**
   * After a change to a few alerts, the timer only needs to come sooner, never later: a tick that finds
   * nothing to do re-arms from every alert. Keeps each message O(alerts it touched), not O(open alerts).
   */
  private armSooner(alerts: Iterable<Alert>): void {
    if (!this.book || this.ticking) return;
    const due = this.book.due(this.options.rules(), alerts);
    if (due !== undefined && (this.timer === undefined || due < this.timerAt)) this.setTimer(due);
  }

  private setTimer(due: number | undefined): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (due === undefined) return;
    this.timerAt = due;
    const delay = Math.min(DAY, Math.max(0, due - Date.now()));
    this.timer = setTimeout(() => this.tick(), delay);
    this.timer.unref?.();
  }

  private tick(): void {
    this.timer = undefined;
    if (!this.book || this.recovering !== undefined) return;
    const book = this.book;
    const now = Date.now();
    const batch = new Batch();
    book.tick(this.options.rules(), now, batch);
    this.ticking = true;
    const work = this.commit(batch, now).finally(() => {
      this.ticking = false;
      this.arm();
    });
    this.background(work);
  }
}

/**
 * The alert without its recipients, field by field: an object rest (`{ recipients, ...record }`) is a runtime
 * call in V8, ~10x this (0.5-0.8 us against 0.05 us a copy, 1,000 alerts x 1,000). A field added to
 * AlertRecord and not here fails the type check.
 */
function recordOf(a: Alert): AlertRecord {
  return {
    id: a.id,
    ref: a.ref,
    ruleId: a.ruleId,
    deviceId: a.deviceId,
    label: a.label,
    state: a.state,
    priority: a.priority,
    text: a.text,
    openedAt: a.openedAt,
    updatedAt: a.updatedAt,
    lastSeenAt: a.lastSeenAt,
    lastSentAt: a.lastSentAt,
    count: a.count,
    step: a.step,
    nextEscalationAt: a.nextEscalationAt,
    receiptDueAt: a.receiptDueAt,
    ackedBy: a.ackedBy,
    ackedPhone: a.ackedPhone,
    ackedAt: a.ackedAt,
    resolvedAt: a.resolvedAt,
    resolveReason: a.resolveReason,
    version: a.version,
  };
}

function toEvent(a: AlertRecord): AlertEvent {
  return {
    id: a.id,
    ref: a.ref,
    rule: a.ruleId,
    device: a.deviceId || undefined,
    state: a.state,
    priority: a.priority,
    step: a.step,
    count: a.count,
    openedAt: a.openedAt,
    ackedBy: a.ackedBy,
    ackedAt: a.ackedAt,
    resolvedAt: a.resolvedAt,
    reason: a.resolveReason,
    at: a.updatedAt,
  };
}
