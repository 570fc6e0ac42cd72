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
  })
  .strict();

export const contactSchema = z
  .object({
    /** International number; normalised to E.164 at load (`+44 7700 900001` -> `+447700900001`). Required. */
    phone: z.string(),
    /** Shown in logs and the status page. Default: none. */
    name: z.string().min(1).optional(),
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
    /** No new SMS for the same rule and device within this time. Default: none. */
    cooldown: durationSchema.optional(),
    /** Escalation steps while the alert is not acknowledged. Default `[]`. */
    escalate: z.array(escalationSchema).default([]),
    /** Topic filter whose messages resolve the alert. Default: none. */
    resolve_topic: topicFilter.optional(),
    /** Most SMS parts for this rule's texts; overrides smpp.max_parts. Default: smpp.max_parts. */
    max_parts: z.number().int().min(1).max(255).optional(),
    /** A disabled rule is checked but never matches. Default `true`. */
    enabled: z.boolean().default(true),
  })
  .strict();

export type RuleInput = z.output<typeof ruleSchema>;
