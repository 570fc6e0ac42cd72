import { z } from 'zod';
import { durationSchema } from '../config/duration.js';
import { topicFilterError } from './topic-trie.js';

/**
 * Rule files (`config/rules/*.yaml`): `contacts`, `groups` and `rules`, all optional, snake_case keys. The
 * checks that need more than one file (references, duplicates, cycles) and the compiling of `when` and `text`
 * are in compile.ts; this schema checks the shape of each entry.
 */

export const PRIORITIES = ['critical', 'high', 'normal', 'low'] as const;
export type Priority = (typeof PRIORITIES)[number];

export const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
export const ID_HINT = 'expected an id of letters, digits, _ . or - (starting with a letter or digit)';

const id = z.string().regex(ID_PATTERN, ID_HINT);
const idList = z.array(id).min(1);

const topicFilter = z.string().check((ctx) => {
  const error = topicFilterError(ctx.value);
  if (error) ctx.issues.push({ code: 'custom', input: ctx.value, message: error });
});

/** The top level of a file; entries are checked one by one so that every problem is reported. */
export const ruleFileSchema = z
  .object({
    /** Contact id -> `{ phone, name? }`. Default `{}`. */
    contacts: z.record(z.string(), z.unknown()).default({}),
    /** Group id -> list of contact or group ids. Default `{}`. */
    groups: z.record(z.string(), z.unknown()).default({}),
    /** The rules. Default `[]`. */
    rules: z.array(z.unknown()).default([]),
    /** Per-recipient alert policies (digest, caps, quiet hours); lists of all files are joined. Default: none. */
    policies: z.unknown().optional(),
    /** Rotation id -> weekly on-call list, usable in `to` like a group. Default `{}`. */
    rotations: z.record(z.string(), z.unknown()).default({}),
  })
  .strict();

export const contactSchema = z
  .object({
    /** International number; normalised to E.164 at load (`+44 7700 900001` -> `+447700900001`). Required. */
    phone: z.string(),
    /** Shown in logs and the status page. Default: none. */
    name: z.string().min(1).optional(),
    /** Digits this contact must add to SMS commands (`PIN 1234 PUMP-7 STOP`). Default: none (no PIN). */
    pin: z
      .string()
      .regex(/^\d{4,8}$/, 'a PIN is 4 to 8 digits')
      .optional(),
  })
  .strict();

/** Contact and group ids. */
export const groupSchema = idList;

export const escalationSchema = z
  .object({
    /** How long an alert stays unacknowledged before this step. Required. */
    after: durationSchema,
    /** Who is told at this step: contact or group ids. Required. */
    to: idList,
  })
  .strict();

export const ruleSchema = z
  .object({
    /** Unique across all rule files; used in logs, metrics and alert state. Required. */
    id,
    /** MQTT topic filter, `+` and `#` allowed (MQTT 3.1.1 §4.7). Required. */
    topic: topicFilter,
    /** filtrex expression over the JSON payload's fields, e.g. `temp > 90`. Default: always. */
    when: z.string().min(1).optional(),
    /** Contact or group ids. Required. */
    to: idList,
    /** Mustache template of the SMS text (no HTML escaping). Required. */
    text: z.string().min(1),
    /** critical | high | normal | low. Default `normal`. */
    priority: z.enum(PRIORITIES).default('normal'),
    /**
     * Repeats of the same rule and device within this time update the open alert instead of sending; after it,
     * a reminder goes out. `0` sends on every match. Default `10m` (see `DEFAULT_COOLDOWN_MS`).
     */
    cooldown: durationSchema.optional(),
    /** Escalation steps while the alert is not acknowledged. Default `[]`. */
    escalate: z.array(escalationSchema).default([]),
    /** Topic filter whose messages resolve the alert. Default: none. */
    resolve_topic: topicFilter.optional(),
    /** Most SMS parts for this rule's texts; overrides smpp.max_parts. Default: smpp.max_parts. */
    max_parts: z.number().int().min(1).max(255).optional(),
    /** Ask the SMSC for delivery receipts for this rule's SMS. Default: the connection's `registered_delivery`. */
    registered_delivery: z.boolean().optional(),
    /** A disabled rule is checked but never matches. Default `true`. */
    enabled: z.boolean().default(true),
    /** Short name in digests, ACK and resolved notices (`pump-7 overheat`). Default: the rule id. */
    title: z.string().min(1).max(40).optional(),
    /** Expression over the payload of a message on `topic` that resolves the alert, e.g. `temp < 80`. Default: none. */
    resolve_when: z.string().min(1).optional(),
    /** Send a short "resolved" SMS to everyone who was told. Default `true`. */
    notify_resolved: z.boolean().optional(),
    /** No delivery receipt for an SMS of the current step within this time: escalate at once. Default: none. */
    receipt_timeout: durationSchema.optional(),
    /** An alert with no new match for this long is closed quietly. Default `24h`. */
    resolve_after: durationSchema.optional(),
  })
  .strict();

export type RuleInput = z.output<typeof ruleSchema>;

let compiledRuleSchema: typeof ruleSchema | undefined;
/**
 * `ruleSchema` compiled by zod into one generated parser (`z.compile`), made on first use: with 1,000 rules it
 * takes about half the CPU of zod's per-object fast path, compiling included (BENCHMARKS.md, "Start-up: the
 * rules"). A rule the parser rejects is parsed again by `ruleSchema` itself, so every issue and message is the
 * runtime's.
 */
export function compiledRules(): typeof ruleSchema {
  compiledRuleSchema ??= z.compile(ruleSchema);
  return compiledRuleSchema;
}

const scope = {
  /** Contact, group or rotation ids this entry is for. Default: everyone. */
  to: idList.optional(),
};

const clock = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'expected a time of day like 07:00 or 22:30');

export const timeZoneSchema = z.string().check((ctx) => {
  try {
    new Intl.DateTimeFormat('en-GB', { timeZone: ctx.value });
  } catch {
    ctx.issues.push({
      code: 'custom',
      input: ctx.value,
      message: `expected an IANA time zone like Europe/London, got '${ctx.value}'`,
    });
  }
});

/** More than `max` alert SMS to one person within `window`: the rest wait and go out as one digest SMS. */
export const digestPolicySchema = z
  .object({
    ...scope,
    /** Alert SMS sent one by one per window before the digest starts. Default `3`. */
    max: z.number().int().min(0).default(3),
    /** Length of the window; the digest goes out this long after the first held alert. Default `10m`. */
    window: durationSchema.default(600_000),
  })
  .strict();

/** Alert SMS per person per hour and per day; over a cap they are dropped (and logged). */
export const capPolicySchema = z
  .object({
    ...scope,
    /** Default: no hourly cap. */
    per_hour: z.number().int().min(1).optional(),
    /** Default: no daily cap. */
    per_day: z.number().int().min(1).optional(),
    /** Critical alerts are sent even over the cap. Default `false`. */
    critical_exceeds: z.boolean().default(false),
  })
  .strict();

/** From `from` to `until` (local time, may span midnight) alert SMS below `override` wait until `until`. */
export const quietHoursSchema = z
  .object({
    ...scope,
    from: clock,
    until: clock,
    /** IANA zone of `from` and `until`. Required. */
    time_zone: timeZoneSchema,
    /** Alerts of this priority or higher are sent anyway. Default `critical`. */
    override: z.enum(PRIORITIES).default('critical'),
  })
  .strict();

export const policiesSchema = z
  .object({
    /** First matching entry per recipient applies. Default `[]` (no digest). */
    digest: z.array(digestPolicySchema).default([]),
    /** First matching entry per recipient applies. Default `[]` (no caps). */
    caps: z.array(capPolicySchema).default([]),
    /** First matching entry per recipient applies. Default `[]` (no quiet hours). */
    quiet_hours: z.array(quietHoursSchema).default([]),
  })
  .strict();

/** A weekly on-call list: `weeks[0]` from `start`, `weeks[1]` seven days later, and round again. */
export const rotationSchema = z
  .object({
    /** IANA zone of `start`. Required. */
    time_zone: timeZoneSchema,
    /** Local date and time of the first handover, e.g. `2025-01-06 09:00`. Required. */
    start: z
      .string()
      .regex(/^\d{4}-\d{2}-\d{2}( ([01]\d|2[0-3]):[0-5]\d)?$/, 'expected a local date like 2025-01-06 09:00'),
    /** Contact or group ids, one per week. Required. */
    weeks: idList,
  })
  .strict();

export type PoliciesInput = z.output<typeof policiesSchema>;
export type RotationInput = z.output<typeof rotationSchema>;
