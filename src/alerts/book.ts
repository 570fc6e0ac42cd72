import type { CompiledRule, Recipient, Resolution, RuleMatch, RuleSet } from '../rules/engine.js';
import type { Priority } from '../rules/schema.js';
import type { LoadedState } from './alert-store.js';
import { DAY, quietUntil } from './clock.js';
import { capCheck, gate, policiesFor, recipientsAt } from './policy.js';
import { alertLabel, digestText, resolvedText } from './texts.js';
import { type Alert, type AlertRecipient, type Held, PRIORITY_RANK } from './types.js';

/** An SMS the book decided on; committed by the engine. */
export interface Outgoing {
  phone: string;
  text: string;
  priority: Priority;
  kind: 'alert' | 'digest' | 'notice';
  ruleId: string | undefined;
  deviceId: string | undefined;
  ref: string | undefined;
  /** the alert recipients it tells, so that receipts find their way back */
  tells: Array<{ alertId: number; phone: string }>;
}

/** Everything one operation changed, to be committed together. */
/**
 * A rule without `cooldown` still does not flood (guarantee 3): a device that keeps reporting the same alert
 * gets one SMS, then a reminder every 10 minutes until it is acknowledged or resolved.
 */
export const DEFAULT_COOLDOWN_MS = 600_000;

export class Batch {
  readonly alerts = new Set<Alert>();
  /** alerts whose state changed: one retained event each */
  readonly events = new Set<Alert>();
  readonly sms: Outgoing[] = [];
  readonly heldAdded: Held[] = [];
  readonly heldRemoved: number[] = [];
  readonly heldMoved: Array<{ phone: string; flushAt: number }> = [];
  readonly sent: Array<{ phone: string; at: number }> = [];
  readonly dropped: Array<{ phone: string; alertId: number; why: string }> = [];
}

const DEFAULT_RESOLVE_AFTER = DAY;
const MAX_SHORT_REF = 999;

/**
 * The live alerts and per-person policy state, in memory; every decision is synchronous so concurrent
 * messages cannot race. No I/O: the engine persists each Batch.
 */
export class AlertBook {
  readonly alerts = new Map<number, Alert>();
  private readonly byKey = new Map<string, Alert>();
  private readonly byRef = new Map<string, Alert>();
  private readonly held = new Map<string, Held[]>();
  private readonly sent = new Map<string, number[]>();
  private readonly smsIndex = new Map<number, Array<{ alertId: number; phone: string }>>();
  private nextAlertId: number;
  private nextHeldId: number;
  private lastRef: number;

  constructor(state: LoadedState) {
    this.nextAlertId = state.nextAlertId;
    this.nextHeldId = state.nextHeldId;
    this.lastRef = state.lastRef;
    for (const a of state.alerts) {
      this.add(a);
      for (const r of a.recipients.values()) if (r.smsId !== null) this.index(r.smsId, a.id, r.phone);
    }
    for (const h of state.held) this.heldOf(h.phone).push(h);
    for (const s of state.sent) this.sentOf(s.phone, s.at).push(s.at);
  }

  byRefOf(ref: string): Alert | undefined {
    return this.byRef.get(ref);
  }

  match(rules: RuleSet, m: RuleMatch, now: number, batch: Batch): void {
    const rule = m.rule;
    const existing = this.byKey.get(key(rule.id, m.device?.id));
    if (existing) {
      existing.count++;
      existing.lastSeenAt = now;
      existing.updatedAt = now;
      existing.text = m.render(existing.ref);
      batch.alerts.add(existing);
      if (existing.state === 'acked') return;
      const cooldown = rule.cooldownMs ?? DEFAULT_COOLDOWN_MS;
      if (existing.lastSentAt !== null && now - existing.lastSentAt < cooldown) return;
      existing.lastSentAt = now;
      for (const r of recipientsAt(rules, rule.to, now)) this.deliver(rules, existing, r, 0, now, batch);
      return;
    }
    const ref = this.allocRef();
    const first = rule.escalate[0];
    const alert: Alert = {
      id: this.nextAlertId++,
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
      recipients: new Map(),
    };
    this.add(alert);
    batch.alerts.add(alert);
    batch.events.add(alert);
    for (const r of recipientsAt(rules, rule.to, now)) this.deliver(rules, alert, r, 0, now, batch);
  }

  resolve(rules: RuleSet, res: Resolution, now: number, batch: Batch): void {
    const alert = this.byKey.get(key(res.rule.id, res.device?.id));
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
      this.deliver(rules, alert, r, alert.step, now, batch);
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
    this.byKey.delete(key(alert.ruleId, alert.deviceId));
    this.byRef.delete(alert.ref);
    this.alerts.delete(alert.id);
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
    const decision = gate({
      now,
      priority: alert.priority,
      kind: 'notice',
      policies: policiesFor(rules, phone),
      sent: [],
      heldUntil: undefined,
    });
    if (decision.kind !== 'send') return;
    batch.sms.push({
      phone,
      text,
      priority: alert.priority,
      kind: 'notice',
      ruleId: alert.ruleId,
      deviceId: alert.deviceId || undefined,
      ref: alert.ref,
      tells: [],
    });
  }

  private deliver(rules: RuleSet, alert: Alert, r: Recipient, step: number, now: number, batch: Batch): void {
    const rec: AlertRecipient = alert.recipients.get(r.phone) ?? {
      phone: r.phone,
      contactId: r.contactId,
      name: r.name,
      step,
      smsId: null,
      smsState: null,
      toldAt: null,
    };
    alert.recipients.set(r.phone, rec);
    const policies = policiesFor(rules, r.phone);
    const list = this.held.get(r.phone);
    const decision = gate({
      now,
      priority: alert.priority,
      kind: 'alert',
      policies,
      sent: this.sentOf(r.phone, now),
      heldUntil: list?.[0]?.flushAt,
    });
    if (decision.kind === 'drop') {
      batch.dropped.push({ phone: r.phone, alertId: alert.id, why: decision.why });
    } else if (decision.kind === 'hold') {
      const items = this.heldOf(r.phone);
      if (items.length > 0 && items[0]!.flushAt !== decision.until) {
        for (const h of items) h.flushAt = decision.until;
        batch.heldMoved.push({ phone: r.phone, flushAt: decision.until });
      }
      const h: Held = {
        id: this.nextHeldId++,
        phone: r.phone,
        contactId: r.contactId,
        name: r.name,
        alertId: alert.id,
        step,
        priority: alert.priority,
        heldAt: now,
        flushAt: decision.until,
      };
      items.push(h);
      batch.heldAdded.push(h);
    } else {
      this.send(alert.text, alert.priority, r.phone, [alert], now, batch, 'alert');
    }
  }

  private send(
    text: string,
    priority: Priority,
    phone: string,
    alerts: Alert[],
    now: number,
    batch: Batch,
    kind: Outgoing['kind'],
  ): void {
    const single = alerts.length === 1 ? alerts[0] : undefined;
    batch.sms.push({
      phone,
      text,
      priority,
      kind,
      ruleId: single?.ruleId,
      deviceId: single?.deviceId || undefined,
      ref: single?.ref,
      tells: alerts.map((a) => ({ alertId: a.id, phone })),
    });
    for (const a of alerts) {
      const rec = a.recipients.get(phone);
      if (rec) {
        rec.toldAt = now;
        rec.smsState = 'queued';
      }
      batch.alerts.add(a);
    }
    this.sentOf(phone, now).push(now);
    batch.sent.push({ phone, at: now });
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
    for (const [phone, items] of this.held)
      if (items[0] && items[0].flushAt <= now) this.flush(rules, phone, now, batch);
  }

  private flush(rules: RuleSet, phone: string, now: number, batch: Batch): void {
    const items = this.held.get(phone) ?? [];
    const alerts: Alert[] = [];
    for (const h of items) {
      const a = this.alerts.get(h.alertId);
      if (a && (a.state === 'open' || a.state === 'escalated') && !alerts.includes(a)) alerts.push(a);
    }
    const policies = policiesFor(rules, phone);
    const top = alerts.reduce<Priority>(
      (p, a) => (PRIORITY_RANK[a.priority] > PRIORITY_RANK[p] ? a.priority : p),
      'low',
    );
    const quiet =
      policies.quiet && PRIORITY_RANK[top] < PRIORITY_RANK[policies.quiet.override]
        ? quietUntil(now, policies.quiet)
        : undefined;
    if (alerts.length > 0 && quiet !== undefined) {
      for (const h of items) h.flushAt = quiet;
      batch.heldMoved.push({ phone, flushAt: quiet });
      return;
    }
    this.held.delete(phone);
    for (const h of items) batch.heldRemoved.push(h.id);
    if (alerts.length === 0) return;
    const decision = capCheck(now, top, policies.caps, this.sentOf(phone, now));
    if (decision.kind !== 'send') {
      for (const a of alerts)
        batch.dropped.push({ phone, alertId: a.id, why: decision.kind === 'drop' ? decision.why : 'cap' });
      return;
    }
    const text = alerts.length === 1 ? alerts[0]!.text : digestText(alerts);
    this.send(text, top, phone, alerts, now, batch, alerts.length === 1 ? 'alert' : 'digest');
  }

  /** The earliest time `tick` has work, if any. */
  due(rules: RuleSet): number | undefined {
    let due = Number.POSITIVE_INFINITY;
    for (const a of this.alerts.values()) {
      due = Math.min(due, a.lastSeenAt + (ruleOf(rules, a)?.resolveAfterMs ?? DEFAULT_RESOLVE_AFTER));
      if (a.state !== 'open' && a.state !== 'escalated') continue;
      if (a.nextEscalationAt !== null) due = Math.min(due, a.nextEscalationAt);
      if (a.receiptDueAt !== null) due = Math.min(due, a.receiptDueAt);
    }
    for (const items of this.held.values()) if (items[0]) due = Math.min(due, items[0].flushAt);
    return Number.isFinite(due) ? due : undefined;
  }

  /** A state change of an SMS: a failed one of the current step escalates at once. */
  smsStatus(rules: RuleSet, smsId: number, state: string, now: number, batch: Batch): void {
    for (const { alertId, phone } of this.smsIndex.get(smsId) ?? []) {
      const alert = this.alerts.get(alertId);
      const rec = alert?.recipients.get(phone);
      if (!alert || !rec || rec.smsId !== smsId) continue;
      rec.smsState = state;
      batch.alerts.add(alert);
      const live = alert.state === 'open' || alert.state === 'escalated';
      if (live && (state === 'failed' || state === 'expired') && rec.step === alert.step) {
        this.escalate(rules, alert, now, batch);
      }
    }
  }

  /** Records which SMS told whom, once it has its id. */
  linkSms(out: Outgoing, smsId: number, changed: Set<Alert>): void {
    for (const t of out.tells) {
      const alert = this.alerts.get(t.alertId);
      const rec = alert?.recipients.get(t.phone);
      if (!alert || !rec) continue;
      rec.smsId = smsId;
      changed.add(alert);
      this.index(smsId, t.alertId, t.phone);
    }
  }

  unhold(alertId: number, batch: Batch): void {
    for (const [phone, items] of this.held) {
      const keep = items.filter((h) => h.alertId !== alertId);
      if (keep.length === items.length) continue;
      for (const h of items) if (h.alertId === alertId) batch.heldRemoved.push(h.id);
      if (keep.length > 0) this.held.set(phone, keep);
      else this.held.delete(phone);
    }
  }

  private add(a: Alert): void {
    this.alerts.set(a.id, a);
    this.byKey.set(key(a.ruleId, a.deviceId), a);
    this.byRef.set(a.ref, a);
  }

  private index(smsId: number, alertId: number, phone: string): void {
    const list = this.smsIndex.get(smsId) ?? [];
    list.push({ alertId, phone });
    this.smsIndex.set(smsId, list);
  }

  private heldOf(phone: string): Held[] {
    let items = this.held.get(phone);
    if (!items) {
      items = [];
      this.held.set(phone, items);
    }
    return items;
  }

  /** Sends to this phone in the last day, oldest first (older ones are pruned). */
  private sentOf(phone: string, now: number): number[] {
    let list = this.sent.get(phone);
    if (!list) {
      list = [];
      this.sent.set(phone, list);
    }
    while (list.length > 0 && list[0]! <= now - DAY) list.shift();
    return list;
  }

  /** Small numbers a person can type, counting up and wrapping, so a stale `ACK 7` rarely meets a new 7. */
  private allocRef(): string {
    let n = this.lastRef;
    for (let tries = 0; tries < MAX_SHORT_REF; tries++) {
      n = n >= MAX_SHORT_REF ? 1 : n + 1;
      if (!this.byRef.has(String(n))) {
        this.lastRef = n;
        return String(n);
      }
    }
    n = MAX_SHORT_REF + 1;
    while (this.byRef.has(String(n))) n++;
    return String(n);
  }
}

function key(ruleId: string, deviceId: string | undefined): string {
  return `${ruleId}\u0000${deviceId ?? ''}`;
}

function ruleOf(rules: RuleSet, alert: Alert): CompiledRule | undefined {
  return rules.rules.find((r) => r.id === alert.ruleId);
}

/** Someone of the current step was sent an SMS that has no delivered receipt yet. */
function unconfirmed(alert: Alert): boolean {
  return [...alert.recipients.values()].some(
    (r) => r.step === alert.step && r.toldAt !== null && r.smsState !== 'delivered',
  );
}
