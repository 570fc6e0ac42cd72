import type { Recipient, RuleSet } from '../rules/engine.js';
import type { PoliciesInput, Priority } from '../rules/schema.js';
import { DAY, HOUR, quietUntil, rotationIndex } from './clock.js';
import { PRIORITY_RANK } from './types.js';

/** Pure policy decisions: who gets an SMS now, who waits, who is capped. No I/O, no clock of its own. */

type Digest = PoliciesInput['digest'][number];
type Caps = PoliciesInput['caps'][number];
type Quiet = PoliciesInput['quiet_hours'][number];

export interface RecipientPolicies {
  digest?: Digest | undefined;
  caps?: Caps | undefined;
  quiet?: Quiet | undefined;
}

export type GateDecision =
  | { kind: 'send' }
  | { kind: 'hold'; until: number; why: 'quiet' | 'digest' }
  | { kind: 'drop'; why: 'cap_hour' | 'cap_day' | 'quiet' };

export interface GateInput {
  now: number;
  priority: Priority;
  /** `alert`: a notification (digest and caps apply); `notice`: ack and resolved notes (quiet hours only) */
  kind: 'alert' | 'notice';
  policies: RecipientPolicies;
  /** when alert SMS went to this person in the last day, oldest first */
  sent: readonly number[];
  /** flush time of what already waits for this person, if anything does */
  heldUntil: number | undefined;
}

/** The answer most SMS get: one object for all of them. */
const SEND: GateDecision = Object.freeze({ kind: 'send' });

export function gate(input: GateInput): GateDecision {
  const { now, priority, policies, sent } = input;
  const quiet = policies.quiet;
  const quietEnd = quiet ? quietUntil(now, quiet) : undefined;
  const overridden = quiet !== undefined && PRIORITY_RANK[priority] >= PRIORITY_RANK[quiet.override];
  const quietHold = quietEnd !== undefined && !overridden;
  if (input.kind === 'notice') return quietHold ? { kind: 'drop', why: 'quiet' } : SEND;
  if (quietHold) return { kind: 'hold', until: Math.max(quietEnd, input.heldUntil ?? 0), why: 'quiet' };
  // a critical alert, or one the quiet-hours override lets through, never waits behind what is queued
  const urgent = priority === 'critical' || (quietEnd !== undefined && overridden);
  // once a digest is pending, later alerts join it so that the order is kept
  if (input.heldUntil !== undefined && !urgent)
    return { kind: 'hold', until: input.heldUntil, why: 'digest' };
  const digest = policies.digest;
  if (digest && reached(sent, now - digest.window, digest.max)) {
    const until = Math.min(now + digest.window, input.heldUntil ?? Number.POSITIVE_INFINITY);
    return { kind: 'hold', until, why: 'digest' };
  }
  return capCheck(now, priority, policies.caps, sent);
}

/** Whether quiet hours keep an alert of `priority` waiting at `now`, and until when. */
export function quietHoldUntil(
  now: number,
  priority: Priority,
  quiet: Quiet | undefined,
): number | undefined {
  if (!quiet || PRIORITY_RANK[priority] >= PRIORITY_RANK[quiet.override]) return undefined;
  return quietUntil(now, quiet);
}

/** Caps alone: for a digest that is due. */
export function capCheck(
  now: number,
  priority: Priority,
  caps: Caps | undefined,
  sent: readonly number[],
): GateDecision {
  if (!caps) return SEND;
  const exempt = priority === 'critical' && caps.critical_exceeds;
  if (exempt) return SEND;
  if (caps.per_hour !== undefined && reached(sent, now - HOUR, caps.per_hour))
    return { kind: 'drop', why: 'cap_hour' };
  if (caps.per_day !== undefined && reached(sent, now - DAY, caps.per_day))
    return { kind: 'drop', why: 'cap_day' };
  return SEND;
}

/**
 * Whether `sent` (send times, oldest first) has at least `n` after `since`: walks back from the newest and stops
 * at `n`, so a phone sent thousands of SMS a day costs a cap check `n` steps, not one per send.
 */
function reached(sent: readonly number[], since: number, n: number): boolean {
  let count = 0;
  for (let i = sent.length - 1; i >= 0 && sent[i]! > since; i--) if (++count >= n) return true;
  return count >= n;
}

/**
 * Recipients of id lists without a rotation, per rule set (immutable: a reload builds a new one) and list (a
 * rule's `to` or a step's, the same array each time): the same answer for every alert of the rule, which was
 * resolved again per alert (a walk, two sets and an object per contact). Bounded by the rule set's lists.
 */
const fixedRecipients = new WeakMap<RuleSet, WeakMap<readonly string[], readonly Recipient[]>>();

/** Contacts of `ids` at `now`: rotations give this week's entry; deduplicated by phone. Shared: do not change. */
export function recipientsAt(rules: RuleSet, ids: readonly string[], now: number): readonly Recipient[] {
  let rotating = false;
  for (const id of ids) if (rules.rotations.has(id)) rotating = true;
  if (!rotating) {
    let cache = fixedRecipients.get(rules);
    if (!cache) {
      cache = new WeakMap();
      fixedRecipients.set(rules, cache);
    }
    let found = cache.get(ids);
    if (!found) {
      found = rules.resolveRecipients(ids);
      cache.set(ids, found);
    }
    return found;
  }
  const expanded: string[] = [];
  for (const id of ids) {
    const rotation = rules.rotations.get(id);
    if (rotation) expanded.push(rotation.weeks[rotationIndex(now, rotation)]!);
    else expanded.push(id);
  }
  return rules.resolveRecipients(expanded);
}

/** Every phone an id can ever mean (all weeks of a rotation). */
function allPhones(rules: RuleSet, ids: readonly string[]): Set<string> {
  const expanded = ids.flatMap((id) => rules.rotations.get(id)?.weeks ?? [id]);
  return new Set(rules.resolveRecipients(expanded).map((r) => r.phone));
}

const scopes = new WeakMap<RuleSet, Map<object, Set<string>>>();

function inScope(rules: RuleSet, entry: { to?: string[] | undefined }, phone: string): boolean {
  if (!entry.to) return true;
  let cache = scopes.get(rules);
  if (!cache) {
    cache = new Map();
    scopes.set(rules, cache);
  }
  let phones = cache.get(entry);
  if (!phones) {
    phones = allPhones(rules, entry.to);
    cache.set(entry, phones);
  }
  return phones.has(phone);
}

/** Phones whose policies are remembered per rule set; past it the memo starts again. */
export const MAX_POLICY_PHONES = 10_000;
const policyMemo = new WeakMap<RuleSet, Map<string, RecipientPolicies>>();

/**
 * The first entry of each policy list that is for this phone; per rule set (immutable) and phone, remembered
 * (at most MAX_POLICY_PHONES per rule set): every SMS of an alert asked again. Shared: do not change.
 */
export function policiesFor(rules: RuleSet, phone: string): Readonly<RecipientPolicies> {
  let memo = policyMemo.get(rules);
  if (!memo) {
    memo = new Map();
    policyMemo.set(rules, memo);
  }
  let found = memo.get(phone);
  if (!found) {
    const p = rules.policies;
    found = {
      digest: p.digest.find((e) => inScope(rules, e, phone)),
      caps: p.caps.find((e) => inScope(rules, e, phone)),
      quiet: p.quiet_hours.find((e) => inScope(rules, e, phone)),
    };
    if (memo.size >= MAX_POLICY_PHONES) memo.clear();
    memo.set(phone, found);
  }
  return found;
}

/** Whether this phone may ACK: anyone the rule or its escalation steps could name. */
export function mayAck(rules: RuleSet, ruleId: string, phone: string): boolean {
  const rule = rules.rule(ruleId);
  if (!rule) return false;
  return allPhones(rules, [...rule.to, ...rule.escalate.flatMap((s) => s.to)]).has(phone);
}
