import type { CompiledRule, RuleSet } from '../rules/engine.js';
import type { Priority } from '../rules/schema.js';
import { DEFAULT_COOLDOWN_MS } from './book.js';
import { DAY, HOUR, MINUTE, quietUntil, wallMs } from './clock.js';
import { policiesFor, recipientsAt } from './policy.js';
import { PRIORITY_RANK } from './types.js';

/**
 * Every policy that can change what a rule sends, in words, for `test-rule`: the rule's own (cooldown,
 * escalation, receipts, resolving) and, per person it can reach, the file's digest, caps and quiet hours.
 * A policy that cannot apply to this rule or person says so and why. Pure: `now` is given.
 */
export interface RuleExplanation {
  policies: string[];
  recipients: RecipientExplanation[];
}

export interface RecipientExplanation {
  contact: string | undefined;
  phone: string;
  /** `at once`, or the escalation step that first names them */
  when: string;
  policies: string[];
}

/** What book.ts does when `resolve_after` is not set. */
const DEFAULT_RESOLVE_AFTER_MS = DAY;

export function explainRule(
  rules: RuleSet,
  rule: CompiledRule,
  priority: Priority,
  now: number,
): RuleExplanation {
  const policies: string[] = [];
  const cooldown = rule.cooldownMs ?? DEFAULT_COOLDOWN_MS;
  const cooldownKey = `cooldown ${formatMs(cooldown)}${rule.cooldownMs === undefined ? ' (default)' : ''}`;
  policies.push(
    cooldown === 0
      ? `${cooldownKey}: no cooldown, every match for the same device sends again`
      : `${cooldownKey}: a repeat for the same device within ${formatMs(cooldown)} sends nothing (the alert ` +
          'is updated); after it, a reminder',
  );
  const told = new Set(recipientsAt(rules, rule.to, now).map((r) => r.phone));
  let at = 0;
  rule.escalate.forEach((step, i) => {
    at += step.afterMs;
    const people = recipientsAt(rules, step.to, now);
    const fresh = people.filter((r) => !told.has(r.phone));
    for (const r of people) told.add(r.phone);
    const names = people.map((r) => r.contactId ?? r.phone).join(', ');
    const rotation = step.to.some((id) => rules.rotations.has(id)) ? 'this week ' : '';
    policies.push(
      `escalation step ${i + 1} at ${formatMs(at)} if not acked: ${step.to.join(', ')} (${rotation}${names}` +
        `${fresh.length === 0 ? ', already told: nobody new' : ''})`,
    );
  });
  if (rule.escalate.length === 0) policies.push('escalation: none');
  if (rule.receiptTimeoutMs !== undefined) {
    const t = `receipt_timeout ${formatMs(rule.receiptTimeoutMs)}`;
    if (rule.escalate.length === 0) policies.push(`${t}: cannot apply, the rule has no escalation step`);
    else if (rule.registeredDelivery === false)
      policies.push(`${t}: registered_delivery is false, no receipt comes, so each step escalates after it`);
    else
      policies.push(
        `${t}: a step's SMS not delivered within ${formatMs(rule.receiptTimeoutMs)} escalates at once ` +
          '(a failed SMS at once anyway)',
      );
  } else if (rule.escalate.length > 0) {
    policies.push('receipt_timeout: none (a failed SMS still escalates at once)');
  }
  if (rule.resolveTopic)
    policies.push(`resolve_topic ${rule.resolveTopic}: a message there resolves the alert`);
  if (rule.resolveWhen)
    policies.push(
      `resolve_when '${rule.resolveWhen}': a message on ${rule.topic} where it holds resolves the alert`,
    );
  if (rule.resolveTopic || rule.resolveWhen)
    policies.push(
      rule.notifyResolved !== false
        ? 'notify_resolved: "Resolved: ..." to everyone told (dropped in their quiet hours)'
        : 'notify_resolved: false, resolving sends nothing',
    );
  else policies.push('resolve_topic, resolve_when: none, only resolve_after closes the alert');
  const after = rule.resolveAfterMs ?? DEFAULT_RESOLVE_AFTER_MS;
  policies.push(
    `resolve_after ${formatMs(after)}${rule.resolveAfterMs === undefined ? ' (default)' : ''}: ` +
      'no match for that long closes the alert without a notice',
  );

  const recipients: RecipientExplanation[] = [];
  const seen = new Set<string>();
  const add = (list: ReturnType<typeof recipientsAt>, when: string) => {
    for (const r of list) {
      if (seen.has(r.phone)) continue;
      seen.add(r.phone);
      recipients.push({
        contact: r.contactId,
        phone: r.phone,
        when,
        policies: personPolicies(rules, r.phone, priority, now),
      });
    }
  };
  add(recipientsAt(rules, rule.to, now), 'at once');
  rule.escalate.forEach((step, i) => {
    add(recipientsAt(rules, step.to, now), `escalation step ${i + 1}`);
  });
  return { policies, recipients };
}

function personPolicies(rules: RuleSet, phone: string, priority: Priority, now: number): string[] {
  const { digest, caps, quiet } = policiesFor(rules, phone);
  const lines: string[] = [];
  lines.push(
    digest
      ? `digest: max ${digest.max} alert SMS per ${formatMs(digest.window)}, then one digest at the end of the window`
      : 'digest: none',
  );
  const limits = [
    caps?.per_hour === undefined ? undefined : `${caps.per_hour}/hour`,
    caps?.per_day === undefined ? undefined : `${caps.per_day}/day`,
  ].filter(Boolean);
  if (!caps || limits.length === 0) lines.push('caps: none');
  else
    lines.push(
      priority === 'critical' && caps.critical_exceeds
        ? `caps: ${limits.join(', ')}; cannot apply: critical alerts exceed them (critical_exceeds: true)`
        : `caps: ${limits.join(', ')}; over them this alert's SMS is dropped (logged at warn)`,
    );
  if (!quiet) {
    lines.push('quiet hours: none');
  } else {
    const end = quietUntil(now, quiet);
    const span = `${quiet.from}-${quiet.until} ${quiet.time_zone}, ${end === undefined ? 'not quiet now' : `quiet now until ${clockOf(end, quiet.time_zone)}`}`;
    lines.push(
      PRIORITY_RANK[priority] >= PRIORITY_RANK[quiet.override]
        ? `quiet hours: ${span}; cannot apply: a ${priority} alert goes anyway (override: ${quiet.override})`
        : `quiet hours: ${span}; a ${priority} alert waits until they end (override: ${quiet.override})`,
    );
  }
  return lines;
}

function clockOf(ms: number, zone: string): string {
  const wall = wallMs(ms, zone);
  const minutes = Math.floor((wall % DAY) / MINUTE);
  return `${String(Math.floor(minutes / 60)).padStart(2, '0')}:${String(minutes % 60).padStart(2, '0')}`;
}

/** `90000` -> `1m30s`; `0` -> `0s`. */
export function formatMs(ms: number): string {
  if (ms === 0) return '0s';
  const units: Array<[string, number]> = [
    ['d', DAY],
    ['h', HOUR],
    ['m', MINUTE],
    ['s', 1_000],
  ];
  let rest = ms;
  let out = '';
  for (const [unit, size] of units) {
    if (rest >= size) {
      out += `${Math.floor(rest / size)}${unit}`;
      rest %= size;
    }
  }
  return out + (rest > 0 ? `${rest}ms` : '');
}
