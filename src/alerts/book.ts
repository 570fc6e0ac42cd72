import type { CompiledRule, Resolution, RuleMatch, RuleSet } from '../rules/engine.js';
import type { LoadedAlert, LoadedAlerts } from '../store/alert-types.js';
import type { LiveAlertQuery } from '../store/store.js';
import type { Batch, Outgoing } from './batch.js';
import { DAY } from './clock.js';
import { Dispatcher } from './dispatcher.js';
import { recipientsAt } from './policy.js';
import { alertLabel, resolvedText } from './texts.js';
import { type Alert, Recipients } from './types.js';

/**
 * A rule without `cooldown` still does not flood (guarantee 3): a device that keeps reporting the same alert
 * gets one SMS, then a reminder every 10 minutes until it is acknowledged or resolved.
 */
export const DEFAULT_COOLDOWN_MS = 600_000;

const DEFAULT_RESOLVE_AFTER = DAY;
const MAX_SHORT_REF = 999;

/**
 * The live alerts and their lifecycle, in memory; who is told and when is the Dispatcher's. Every decision is
 * synchronous so concurrent messages cannot race. No I/O: the engine persists each Batch.
 */
export class AlertBook {
  readonly alerts = new Map<number, Alert>();
  private readonly byKey = new KeyIndex();
  private readonly byRef = new Map<string, Alert>();
  /**
   * SMS id -> the live alert (or alerts: a digest tells several) a recipient of which it last told. Bounded by
   * the live alerts' recipients: an entry goes when its alert closes or is forgotten, or the recipient is sent a
   * newer SMS. Alert ids, not objects: an entry allocates nothing the scavenger must copy (issue 14).
   */
  private readonly smsIndex = new Map<number, number | number[]>();
  private readonly dispatcher: Dispatcher;
  private nextAlertId: number;
  private lastRef: number;
  /** ids and ref numbers the store allocated for the decision being made (`supply`) */
  private allocated: Array<{ id: number; ref: number }> = [];

  constructor(state: LoadedAlerts) {
    this.nextAlertId = state.nextAlertId;
    this.lastRef = state.lastRef;
    for (const loaded of state.alerts) this.load(loaded);
    this.dispatcher = new Dispatcher(state);
  }

  byRefOf(ref: string): Alert | undefined {
    return this.byRef.get(ref);
  }

  liveByKey(ruleId: string, deviceId: string | undefined): Alert | undefined {
    return this.byKey.get(ruleId, deviceId ?? '');
  }

  /**
   * Replaces what the book holds for these keys and refs with what the store holds (read under lock in the
   * decision's transaction): alerts resolved or replaced elsewhere are dropped, those opened elsewhere added.
   */
  refresh(query: LiveAlertQuery, fresh: readonly LoadedAlert[]): void {
    for (const k of query.keys ?? []) {
      const a = this.byKey.get(k.ruleId, k.deviceId);
      if (a) this.forget(a);
    }
    for (const ref of query.refs ?? []) {
      const a = this.byRef.get(ref);
      if (a) this.forget(a);
    }
    for (const loaded of fresh) {
      const stale = this.alerts.get(loaded.alert.id);
      if (stale) this.forget(stale);
      this.load(loaded);
    }
  }

  /** Ids and ref numbers from the store for the alerts the next decision opens. */
  supply(allocated: Array<{ id: number; ref: number }>): void {
    this.allocated = allocated;
  }

  match(rules: RuleSet, m: RuleMatch, now: number, batch: Batch): void {
    const rule = m.rule;
    const existing = this.byKey.get(rule.id, m.device?.id ?? '');
    if (existing) {
      existing.count++;
      existing.lastSeenAt = now;
      existing.updatedAt = now;
      existing.text = m.render(existing.ref);
      batch.alerts.add(existing);
      if (existing.state === 'acked') return;
      const cooldown = rule.cooldownMs ?? DEFAULT_COOLDOWN_MS;
      // `cooldown: 0s` sends every time, even for a message older than the last send (another instance's,
      // read back after a conflict, can be later than this one's arrival)
      if (cooldown > 0 && existing.lastSentAt !== null && now - existing.lastSentAt < cooldown) return;
      existing.lastSentAt = Math.max(now, existing.lastSentAt ?? now);
      for (const r of recipientsAt(rules, rule.to, now))
        this.dispatcher.deliver(rules, existing, r, 0, now, batch);
      return;
    }
    const from = this.allocated.shift();
    const ref = this.allocRef(from?.ref);
    const first = rule.escalate[0];
    const alert: Alert = {
      id: from?.id ?? this.nextAlertId++,
      ref,
      ruleId: rule.id,
      deviceId: m.device?.id ?? '',
      label: alertLabel(m.device, rule.title ?? rule.id),
      state: 'open',
      priority: m.priority,
      text: m.render(ref),
      openedAt: now,
      updatedAt: now,
      lastSeenAt: now,
      lastSentAt: now,
      count: 1,
      step: 0,
      nextEscalationAt: first ? now + first.afterMs : null,
      receiptDueAt: rule.receiptTimeoutMs === undefined ? null : now + rule.receiptTimeoutMs,
      ackedBy: null,
      ackedPhone: null,
      ackedAt: null,
      resolvedAt: null,
      resolveReason: null,
      version: 0,
      recipients: new Recipients(),
    };
    this.add(alert);
    batch.alerts.add(alert);
    batch.events.add(alert);
    for (const r of recipientsAt(rules, rule.to, now))
      this.dispatcher.deliver(rules, alert, r, 0, now, batch);
  }

  resolve(rules: RuleSet, res: Resolution, now: number, batch: Batch): void {
    const alert = this.byKey.get(res.rule.id, res.device?.id ?? '');
    if (alert) this.close(rules, alert, res.reason, res.rule.notifyResolved !== false, now, batch);
  }

  /** Moves the alert to its next escalation step, if it has one. */
  escalate(rules: RuleSet, alert: Alert, now: number, batch: Batch): boolean {
    const rule = ruleOf(rules, alert);
    const next = rule?.escalate[alert.step];
    batch.alerts.add(alert);
    if (!rule || !next) {
      alert.nextEscalationAt = null;
      alert.receiptDueAt = null;
      return false;
    }
    alert.step++;
    alert.state = 'escalated';
    alert.updatedAt = now;
    const after = rule.escalate[alert.step];
    alert.nextEscalationAt = after ? now + after.afterMs : null;
    alert.receiptDueAt = rule.receiptTimeoutMs === undefined ? null : now + rule.receiptTimeoutMs;
    batch.events.add(alert);
    for (const r of recipientsAt(rules, next.to, now)) {
      if (alert.recipients.get(r.phone)?.toldAt != null) continue;
      this.dispatcher.deliver(rules, alert, r, alert.step, now, batch);
    }
    return true;
  }

  close(rules: RuleSet, alert: Alert, reason: string, notify: boolean, now: number, batch: Batch): void {
    alert.state = 'resolved';
    alert.resolvedAt = now;
    alert.resolveReason = reason;
    alert.updatedAt = now;
    alert.nextEscalationAt = null;
    alert.receiptDueAt = null;
    this.byKey.delete(alert.ruleId, alert.deviceId);
    this.byRef.delete(alert.ref);
    this.alerts.delete(alert.id);
    this.unindexAll(alert);
    this.unhold(alert.id, batch);
    batch.alerts.add(alert);
    batch.events.add(alert);
    if (!notify) return;
    const text = resolvedText(alert);
    for (const r of alert.recipients.values())
      if (r.toldAt !== null) this.notice(rules, alert, r.phone, text, now, batch);
  }

  /** A short note (ack, resolved): quiet hours drop it, caps and digests do not apply. */
  notice(rules: RuleSet, alert: Alert, phone: string, text: string, now: number, batch: Batch): void {
    this.dispatcher.notice(rules, alert, phone, text, now, batch);
  }

  /** Everything due at `now`: auto-close, receipt deadlines, escalations, digests and quiet-hours ends. */
  tick(rules: RuleSet, now: number, batch: Batch): void {
    for (const alert of [...this.alerts.values()]) {
      if (now - alert.lastSeenAt >= (ruleOf(rules, alert)?.resolveAfterMs ?? DEFAULT_RESOLVE_AFTER)) {
        this.close(rules, alert, 'timeout', false, now, batch);
        continue;
      }
      if (alert.state !== 'open' && alert.state !== 'escalated') continue;
      if (alert.receiptDueAt !== null && alert.receiptDueAt <= now) {
        alert.receiptDueAt = null;
        batch.alerts.add(alert);
        if (unconfirmed(alert)) {
          this.escalate(rules, alert, now, batch);
          continue;
        }
      }
      if (alert.nextEscalationAt !== null && alert.nextEscalationAt <= now)
        this.escalate(rules, alert, now, batch);
    }
    this.dispatcher.flushDue(rules, this.alerts, now, batch);
  }

  /**
   * The earliest time `tick` has work, if any: over every alert, or only over `alerts` (those a message
   * just changed; what the others need is already armed) and the held SMS.
   */
  due(rules: RuleSet, alerts: Iterable<Alert> = this.alerts.values()): number | undefined {
    let due = Number.POSITIVE_INFINITY;
    for (const a of alerts) {
      if (a.state === 'resolved') continue;
      due = Math.min(due, a.lastSeenAt + (ruleOf(rules, a)?.resolveAfterMs ?? DEFAULT_RESOLVE_AFTER));
      if (a.state !== 'open' && a.state !== 'escalated') continue;
      if (a.nextEscalationAt !== null) due = Math.min(due, a.nextEscalationAt);
      if (a.receiptDueAt !== null) due = Math.min(due, a.receiptDueAt);
    }
    due = Math.min(due, this.dispatcher.due());
    return Number.isFinite(due) ? due : undefined;
  }

  /** A state change of an SMS: a failed one of the current step escalates at once. */
  smsStatus(rules: RuleSet, smsId: number, state: string, now: number, batch: Batch): void {
    const ids = this.smsIndex.get(smsId);
    if (typeof ids === 'number') this.statusOf(rules, ids, smsId, state, now, batch);
    else if (ids) for (const id of [...ids]) this.statusOf(rules, id, smsId, state, now, batch);
  }

  /** SMS ids in the index (the recipients of live alerts that were sent one) */
  get indexedSms(): number {
    return this.smsIndex.size;
  }

  /** Records which SMS told whom, once it has its id. */
  linkSms(out: Outgoing, smsId: number): void {
    for (const t of out.tells) {
      const rec = this.alerts.get(t.alertId)?.recipients.get(t.phone);
      if (!rec) continue;
      if (rec.smsId !== null && rec.smsId !== smsId) this.unindex(rec.smsId, t.alertId);
      rec.smsId = smsId;
      this.index(smsId, t.alertId);
    }
  }

  private statusOf(
    rules: RuleSet,
    alertId: number,
    smsId: number,
    state: string,
    now: number,
    batch: Batch,
  ): void {
    const alert = this.alerts.get(alertId);
    if (!alert) return;
    // one SMS has one phone: at most one recipient of an alert
    for (const rec of alert.recipients.values()) {
      if (rec.smsId !== smsId) continue;
      rec.smsState = state;
      batch.alerts.add(alert);
      const live = alert.state === 'open' || alert.state === 'escalated';
      if (live && (state === 'failed' || state === 'expired') && rec.step === alert.step) {
        this.escalate(rules, alert, now, batch);
      }
      return;
    }
  }

  unhold(alertId: number, batch: Batch): void {
    this.dispatcher.unhold(alertId, batch);
  }

  private load(loaded: LoadedAlert): void {
    const a: Alert = { ...loaded.alert, recipients: new Recipients(loaded.recipients) };
    this.add(a);
    for (const r of a.recipients.values()) if (r.smsId !== null) this.index(r.smsId, a.id);
  }

  private forget(a: Alert): void {
    this.alerts.delete(a.id);
    this.unindexAll(a);
    if (this.byKey.get(a.ruleId, a.deviceId) === a) this.byKey.delete(a.ruleId, a.deviceId);
    if (this.byRef.get(a.ref) === a) this.byRef.delete(a.ref);
  }

  private add(a: Alert): void {
    this.alerts.set(a.id, a);
    this.byKey.set(a.ruleId, a.deviceId, a);
    this.byRef.set(a.ref, a);
  }

  private index(smsId: number, alertId: number): void {
    const ids = this.smsIndex.get(smsId);
    if (ids === undefined) this.smsIndex.set(smsId, alertId);
    else if (typeof ids === 'number') {
      if (ids !== alertId) this.smsIndex.set(smsId, [ids, alertId]);
    } else if (!ids.includes(alertId)) ids.push(alertId);
  }

  private unindex(smsId: number, alertId: number): void {
    const ids = this.smsIndex.get(smsId);
    if (ids === alertId) this.smsIndex.delete(smsId);
    else if (typeof ids === 'object') {
      const rest = ids.filter((id) => id !== alertId);
      if (rest.length === 0) this.smsIndex.delete(smsId);
      else this.smsIndex.set(smsId, rest.length === 1 ? rest[0]! : rest);
    }
  }

  private unindexAll(a: Alert): void {
    for (const r of a.recipients.values()) if (r.smsId !== null) this.unindex(r.smsId, a.id);
  }

  /**
   * Small numbers a person can type, counting up and wrapping, so a stale `ACK 7` rarely meets a new 7.
   * The range grows a digit whenever it is 90% taken, so finding a free ref stays a few tries in a storm.
   * `counter`, the store's (shared by every instance), picks the place in the range: instances opening alerts
   * at once start from different numbers, so they collide only when the range wraps onto a ref one of them
   * does not know yet (the loser's transaction fails on the unique ref and it decides again).
   */
  private allocRef(counter?: number): string {
    let limit = MAX_SHORT_REF;
    while (this.byRef.size >= limit * 0.9) limit = limit * 10 + 9;
    let n = counter === undefined ? this.lastRef : (counter - 1) % limit;
    for (;;) {
      n = n >= limit ? 1 : n + 1;
      if (!this.byRef.has(String(n))) {
        this.lastRef = n;
        return String(n);
      }
    }
  }
}

/**
 * (rule, device) -> live alert: a map per rule keyed by the device id the alert already holds. A joined key
 * string per alert (a cons string and its flattened copy, ~64 bytes) lived as long as the alert, in the old
 * generation, and every lookup built and hashed a new one (issue 14).
 */
class KeyIndex {
  private readonly byRule = new Map<string, Map<string, Alert>>();

  get(ruleId: string, deviceId: string): Alert | undefined {
    return this.byRule.get(ruleId)?.get(deviceId);
  }

  set(ruleId: string, deviceId: string, alert: Alert): void {
    let devices = this.byRule.get(ruleId);
    if (devices === undefined) {
      devices = new Map();
      this.byRule.set(ruleId, devices);
    }
    devices.set(deviceId, alert);
  }

  delete(ruleId: string, deviceId: string): void {
    const devices = this.byRule.get(ruleId);
    if (devices === undefined) return;
    devices.delete(deviceId);
    if (devices.size === 0) this.byRule.delete(ruleId);
  }
}

function ruleOf(rules: RuleSet, alert: Alert): CompiledRule | undefined {
  return rules.rule(alert.ruleId);
}

/** Someone of the current step was sent an SMS that has no delivered receipt yet. */
function unconfirmed(alert: Alert): boolean {
  return [...alert.recipients.values()].some(
    (r) => r.step === alert.step && r.toldAt !== null && r.smsState !== 'delivered',
  );
}
