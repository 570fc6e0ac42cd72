import type { Logger } from '../logger.js';
import type { Resolution, RuleMatch, RuleSet } from '../rules/engine.js';
import type { NewSms, Priority, SmsRecord, Store } from '../store/store.js';
import { type AlertDatabase, AlertStore } from './alert-store.js';
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
  store: Pick<Store, 'enqueueSms'> & AlertDatabase;
  /** how long an SMS may wait before it is failed as expired, per priority */
  maxAgeMs: (priority: Priority) => number;
  /** SMS the engine committed on its own (escalations, digests, notices), for the sender */
  onQueued: (records: SmsRecord[]) => void;
  /** retained alert events; the app passes the Bus */
  publish: (topic: string, payload: string, options: { qos: 1; retain: boolean }) => Promise<void>;
  /** `sms-bridge/alerts/<id>` */
  alertTopic: (alertId: number) => string;
  logger: Logger;
}

/**
 * Alert lifecycle (open -> escalated -> acked -> resolved) and policies, with state in SQLite. Decisions are
 * made in memory (AlertBook) and each one's SMS and state are committed together before its caller resumes.
 */
export class AlertEngine {
  private readonly log: Logger;
  private readonly db: AlertStore;
  private book: AlertBook | undefined;
  private timer: NodeJS.Timeout | undefined;
  private timerAt = 0;
  private ticking = false;
  private readonly pending = new Set<Promise<unknown>>();

  constructor(private readonly options: AlertEngineOptions) {
    this.log = options.logger.child({ module: 'alerts' });
    this.db = new AlertStore(options.store);
  }

  /** Loads the open alerts and re-arms their timers: a schedule survives a restart. */
  async start(): Promise<void> {
    this.book = new AlertBook(this.db.load(Date.now()));
    if (this.book.alerts.size > 0) this.log.info({ open: this.book.alerts.size }, 'alerts resumed');
    this.arm();
  }

  async stop(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await Promise.allSettled([...this.pending]);
    this.book = undefined;
  }

  /** Alerts not yet resolved, for the status page. */
  live(): Alert[] {
    return [...(this.book?.alerts.values() ?? [])];
  }

  /**
   * A device message's matches and resolutions: decides the SMS and commits them with the alert state.
   * Resolves once committed (guarantee 1); the caller hands the records to the sender.
   */
  async process(matches: RuleMatch[], resolutions: Resolution[], now: Date): Promise<SmsRecord[]> {
    const book = this.open();
    const rules = this.options.rules();
    const batch = new Batch();
    const at = now.getTime();
    const resolved = new Set(resolutions.map((r) => `${r.rule.id}\u0000${r.device?.id ?? ''}`));
    for (const r of resolutions) book.resolve(rules, r, at, batch);
    for (const m of matches) {
      // a message that both matches and resolves a rule resolves it
      if (!resolved.has(`${m.rule.id}\u0000${m.device?.id ?? ''}`)) book.match(rules, m, at, batch);
    }
    this.armSooner(batch.alerts);
    return this.commit(batch, at);
  }

  /** `ACK <ref>` from `byPhone` (E.164): stops the escalation and tells the others who were told. */
  async ack(ref: string, byPhone: string): Promise<AckResult> {
    const book = this.open();
    const rules = this.options.rules();
    const now = Date.now();
    const alert = book.byRefOf(ref.replace(/^#/, ''));
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
    const batch = new Batch();
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
    this.armSooner([alert]);
    const records = await this.commit(batch, now);
    this.options.onQueued(records);
    this.log.info({ alert: alert.id, ref: alert.ref, by: who }, 'alert acked');
    return {
      ok: true,
      code: 'acked',
      reply: ackReplies.acked(alert),
      alertId: alert.id,
      notified: records.length,
    };
  }

  /** Every SMS state change (the sender's and the receipts' onStatus); failures escalate at once. */
  onSmsStatus(sms: SmsRecord): void {
    if (!this.book || (sms.state !== 'failed' && sms.state !== 'expired' && sms.state !== 'delivered'))
      return;
    const batch = new Batch();
    const now = Date.now();
    this.book.smsStatus(this.options.rules(), sms.id, sms.state, now, batch);
    if (batch.alerts.size === 0) return;
    this.armSooner(batch.alerts);
    this.background(this.commit(batch, now).then((records) => this.options.onQueued(records)));
  }

  private open(): AlertBook {
    if (!this.book) throw new Error('the alert engine is not started');
    return this.book;
  }

  private async commit(batch: Batch, now: number): Promise<SmsRecord[]> {
    for (const d of batch.dropped) {
      this.log.warn({ to: d.phone, alert: d.alertId, why: d.why }, 'alert SMS not sent: over a cap');
    }
    const items = batch.sms.map((o) => this.toSms(o, now));
    const saved = this.db.save({ ...batch, alerts: batch.alerts });
    const queued = items.length > 0 ? this.options.store.enqueueSms(items) : Promise.resolve([]);
    const [, records] = await Promise.all([saved, queued]);
    const linked = new Set<Alert>();
    records.forEach((sms, i) => {
      this.book?.linkSms(batch.sms[i]!, sms.id, linked);
    });
    if (linked.size > 0) {
      this.background(
        this.db.save({ alerts: linked, heldAdded: [], heldRemoved: [], heldMoved: [], sent: [] }),
      );
    }
    for (const alert of batch.events) this.publish(alert);
    return records;
  }

  private toSms(o: Outgoing, now: number): NewSms {
    const rule = o.ruleId === undefined ? undefined : this.options.rules().rule(o.ruleId);
    return {
      to: o.phone,
      text: o.text,
      priority: o.priority,
      source: o.kind === 'alert' ? `rule:${o.ruleId}` : `alert-${o.kind}`,
      ruleId: o.ruleId,
      deviceId: o.deviceId,
      alertRef: o.ref,
      expiresAt: now + this.options.maxAgeMs(o.priority),
      maxParts: rule?.maxParts,
      registeredDelivery: rule?.registeredDelivery,
    };
  }

  /** Retained while live; on resolve the final event is sent unretained and the retained one cleared. */
  private publish(alert: Alert): void {
    const topic = this.options.alertTopic(alert.id);
    const payload = JSON.stringify({
      id: alert.id,
      ref: alert.ref,
      rule: alert.ruleId,
      device: alert.deviceId || undefined,
      state: alert.state,
      priority: alert.priority,
      step: alert.step,
      count: alert.count,
      opened_at: new Date(alert.openedAt).toISOString(),
      acked_by: alert.ackedBy ?? undefined,
      acked_at: alert.ackedAt === null ? undefined : new Date(alert.ackedAt).toISOString(),
      resolved_at: alert.resolvedAt === null ? undefined : new Date(alert.resolvedAt).toISOString(),
      reason: alert.resolveReason ?? undefined,
      at: new Date(alert.updatedAt).toISOString(),
    });
    const done = alert.state === 'resolved';
    const sent = this.options
      .publish(topic, payload, { qos: 1, retain: !done })
      .then(() => (done ? this.options.publish(topic, '', { qos: 1, retain: true }) : undefined));
    this.background(sent);
  }

  private background(work: Promise<unknown>): void {
    const p = work.catch((err: unknown) => this.log.error({ err }, 'alert state not saved or published'));
    this.pending.add(p);
    void p.finally(() => this.pending.delete(p));
  }

  /** One timer for the earliest due work of every alert and every held SMS. */
  private arm(): void {
    if (!this.book || this.ticking) return;
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
    const book = this.book;
    if (!book) return;
    const now = Date.now();
    const batch = new Batch();
    book.tick(this.options.rules(), now, batch);
    this.ticking = true;
    const work = this.commit(batch, now)
      .then((records) => this.options.onQueued(records))
      .finally(() => {
        this.ticking = false;
        this.arm();
      });
    this.background(work);
  }
}
