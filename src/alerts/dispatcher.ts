import type { Recipient, RuleSet } from '../rules/engine.js';
import type { Priority } from '../rules/schema.js';
import type { LoadedAlerts } from '../store/alert-types.js';
import type { Batch, Outgoing } from './batch.js';
import { DAY } from './clock.js';
import { capCheck, gate, policiesFor, quietHoldUntil } from './policy.js';
import { digestText } from './texts.js';
import { type Alert, type AlertRecipient, type Held, PRIORITY_RANK } from './types.js';

/**
 * The per-person policy state: who is told now, whose SMS waits for a digest or for quiet hours to end, and
 * what each phone was sent in the last day (for the caps). Synchronous and without I/O, like the book.
 */
export class Dispatcher {
  private readonly held = new Map<string, Held[]>();
  private readonly sent = new Map<string, number[]>();
  private nextHeldId: number;

  constructor(state: Pick<LoadedAlerts, 'held' | 'sent' | 'nextHeldId'>) {
    this.nextHeldId = state.nextHeldId;
    for (const h of state.held) this.heldOf(h.phone).push(h);
    for (const s of state.sent) this.sentOf(s.phone, s.at).push(s.at);
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

  deliver(rules: RuleSet, alert: Alert, r: Recipient, step: number, now: number, batch: Batch): void {
    const rec: AlertRecipient = alert.recipients.get(r.phone) ?? {
      phone: r.phone,
      contactId: r.contactId,
      name: r.name,
      step,
      smsId: null,
      smsState: null,
      toldAt: null,
    };
    alert.recipients.set(rec);
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

  /** Flushes every phone whose held SMS are due at `now`; `alerts` are the live ones by id. */
  flushDue(rules: RuleSet, alerts: ReadonlyMap<number, Alert>, now: number, batch: Batch): void {
    for (const [phone, items] of this.held)
      if (items[0] && items[0].flushAt <= now) this.flush(rules, alerts, phone, now, batch);
  }

  /** The earliest flush time, or infinity when nothing is held. */
  due(): number {
    let due = Number.POSITIVE_INFINITY;
    for (const items of this.held.values()) if (items[0]) due = Math.min(due, items[0].flushAt);
    return due;
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

  private flush(
    rules: RuleSet,
    live: ReadonlyMap<number, Alert>,
    phone: string,
    now: number,
    batch: Batch,
  ): void {
    const items = this.held.get(phone) ?? [];
    const policies = policiesFor(rules, phone);
    const alertOf = (h: Held): Alert | undefined => {
      const a = live.get(h.alertId);
      return a && (a.state === 'open' || a.state === 'escalated') ? a : undefined;
    };
    // quiet hours still on keep the alerts below their override waiting; the others go now
    let quietEnd: number | undefined;
    const waiting = items.filter((h) => {
      const a = alertOf(h);
      const until = a && quietHoldUntil(now, a.priority, policies.quiet);
      if (until !== undefined) quietEnd = until;
      return until !== undefined;
    });
    const due = items.filter((h) => !waiting.includes(h));
    for (const h of due) batch.heldRemoved.push(h.id);
    if (quietEnd !== undefined) {
      for (const h of waiting) h.flushAt = quietEnd;
      this.held.set(phone, waiting);
      batch.heldMoved.push({ phone, flushAt: quietEnd });
    } else {
      this.held.delete(phone);
    }
    const alerts: Alert[] = [];
    for (const h of due) {
      const a = alertOf(h);
      if (a && !alerts.includes(a)) alerts.push(a);
    }
    if (alerts.length === 0) return;
    const top = alerts.reduce<Priority>(
      (p, a) => (PRIORITY_RANK[a.priority] > PRIORITY_RANK[p] ? a.priority : p),
      'low',
    );
    const decision = capCheck(now, top, policies.caps, this.sentOf(phone, now));
    if (decision.kind !== 'send') {
      for (const a of alerts)
        batch.dropped.push({ phone, alertId: a.id, why: decision.kind === 'drop' ? decision.why : 'cap' });
      return;
    }
    const text = alerts.length === 1 ? alerts[0]!.text : digestText(alerts);
    this.send(text, top, phone, alerts, now, batch, alerts.length === 1 ? 'alert' : 'digest');
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
    // Sends older than a day are dropped in one splice once they are half the list (found by binary search):
    // checks walk from the newest and stop at their window, and a shift() per send is O(n) once a list is long
    // (see smpp/lane.ts), which a phone sent thousands of SMS a day reaches.
    let lo = 0;
    let hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (list[mid]! <= now - DAY) lo = mid + 1;
      else hi = mid;
    }
    if (lo > 0 && lo * 2 >= list.length) list.splice(0, lo);
    return list;
  }
}
